"""The judge's side of the subject: what a test asks of the submission, and what it gets back.

A test never holds the submission's objects. It holds :class:`Ref` handles to them and
asks for data (``ref.get("scaling")``, ``ref(x)``, ``ref.parameters()``), which it then
judges with its own code. A handle is no proxy: comparing, testing or printing it runs
nothing in the subject.

Two channels carry the same requests and replies (``protocol.py``):

- **remote**, when the grader runs the suite: the subject is another, contained process
  started by the grader's zygote, which this process reaches over a socket it inherited.
  A subject that dies, hangs past the test's timeout or breaks the protocol fails the test
  that asked, and a fresh one is started for the next request;
- **local**, for a student's ``pytest`` and ``check()``: the subject's server runs in this
  process, on the module imported here, on the same encoded values (without their bytes),
  so that each test judges alike in both.
"""

import builtins
import contextlib
import os
import socket

import pytest

from .protocol import Answer, Encoder, Op, ProtocolError, decode, pack, unpack

ZYGOTE_VARIABLE = "LORA_GRADER_ZYGOTE_FD"  # the grader's: the socket to ask for subjects on
_ZYGOTE_FD = os.environ.pop(ZYGOTE_VARIABLE, None)  # taken out before any submission could read it


class SubjectRaised(Exception):
    """The submission's code raised; ``where`` holds its own frames."""

    def __init__(self, message: str, type_name: str, where: str):
        super().__init__(message)
        self.type_name, self.where = type_name, where
        if where:
            self.add_note(f"in the submission ({type_name}):\n{where.rstrip()}")


# Exceptions a test may expect by type (``except ValueError``); any other arrives as SubjectRaised.
_EXPECTABLE = ("ValueError", "TypeError", "KeyError", "IndexError", "AttributeError", "RuntimeError",
               "NotImplementedError", "AssertionError", "ZeroDivisionError", "LookupError", "ArithmeticError")
_RAISED = {name: type(name, (SubjectRaised, getattr(builtins, name)), {}) for name in _EXPECTABLE}


def raised(description: dict) -> SubjectRaised:
    """The submission's exception as the judge may catch it: an instance of the most derived builtin class it
    derives from (``class LoRAArgumentError(ValueError)`` is caught by ``except ValueError``), named as the
    submission named it."""
    bases = description.get("builtins")
    bases = [str(name) for name in bases] if isinstance(bases, list) else [description.get("type")]
    cls = next((_RAISED[name] for name in bases if name in _RAISED), SubjectRaised)
    fields = (str(description.get(key, "")) for key in ("message", "type", "where"))
    return cls(*fields)


class SubjectLost(Exception):
    """The subject died, hung or broke the protocol during a request."""


class Ref:
    """A handle to an object in the subject. Every method is one request; what comes back is data or a Ref."""

    __slots__ = ("_judge", "handle", "type")

    def __init__(self, judge: "Judge", handle: int, type_name: str):
        self._judge, self.handle, self.type = judge, handle, type_name

    def __repr__(self) -> str:
        return f"<{self.type} in the subject, handle {self.handle}>"

    def __call__(self, *args, **kwargs):
        return self._judge.call({"object": self}, args, kwargs)

    def call(self, method: str, *args, keep=False, no_grad=False, **kwargs):
        return self._judge.call({"object": self, "method": method}, args, kwargs, keep=keep, no_grad=no_grad)

    def get(self, path: str, *default):
        return self._judge.ask(Op.GET, default, target=self, path=path)

    def set(self, path: str, value) -> None:
        self._judge.ask(Op.SET, (), target=self, path=path, value=value)

    def assign(self, path: str, tensor) -> None:
        """``path`` (a parameter) takes the values of ``tensor``, without autograd."""
        self._judge.ask(Op.ASSIGN, (), target=self, path=path, value=tensor)

    def parameters(self) -> list[dict]:
        return self._judge.ask(Op.PARAMETERS, (), target=self)

    def modules(self, *kinds: str) -> list[dict]:
        """Every named submodule: name, type, and which of ``kinds`` (``"LinearLoRA"``, ``"nn.Linear"``) it is."""
        return self._judge.ask(Op.MODULES, (), target=self, kinds=list(kinds))

    def tensors(self, names=None) -> dict:
        return self._judge.ask(Op.TENSORS, (), target=self, names=names)

    def backward(self, grad=None) -> None:
        self._judge.ask(Op.BACKWARD, (), target=self, grad=grad)


class Judge:
    """The submission as the tests see it: names to call, builtins, and what importing gave."""

    def __init__(self, channel, path: str = "lora_bert.py", device: str = "cpu"):
        self._channel, self.path, self.device = channel, path, device
        self._refs: dict[int, Ref] = {}
        self._seq = 0
        self.lost = False  # whether the subject was lost during the current test (the grader's report says so)

    # -- what a test uses -------------------------------------------------------------------

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Name(self, name)

    def builtin(self, name: str, *args, keep=False, **kwargs):
        """One of the subject's own helpers (``subject.Server._builtin_*``): the suite's code, not the submission's."""
        return self.call({"builtin": name}, args, kwargs, keep=keep)

    def model(self, name: str, num_labels: int = 2, dtype=None, device=None) -> Ref:
        """A fresh tiny model in the subject: body frozen, head trainable, eval mode, on the run's device."""
        return self.builtin("model", name, num_labels=num_labels, dtype=dtype, device=device)

    def imported(self) -> dict:
        """What importing gave (``protocol.Ready``); fails the test if the module could not be imported at all."""
        ready = self._channel.ready()
        if ready["import_error"] is not None:
            self._not_imported("")
        return ready

    def ready(self) -> dict:
        """What importing gave, as the subject said (``protocol.Ready``), without failing the test."""
        return self._channel.ready()

    def containment(self) -> dict[str, str]:
        """How the subjects contained themselves, as the first one said before importing the submission."""
        return dict(self._channel.containment)

    def subjects_started(self) -> int:
        return self._channel.started

    def reset(self) -> None:
        """A clean subject for the next test (none at all where the submission could not be imported), its random
        generators seeded alike in every test: what the submission draws (A, a fresh head, dropout masks) does not
        move with the inputs the judge draws, and tells nothing of them."""
        self._refs.clear()
        self.lost = False
        if self._channel.ready()["import_error"] is None:
            self.ask(Op.RESET, (), seed=0)

    # -- requests ---------------------------------------------------------------------------

    def call(self, target: dict, args=(), kwargs=None, keep=False, no_grad=False):
        __tracebackhide__ = True
        return self.ask(Op.CALL, (), target=target, args=list(args), kwargs=kwargs or {}, keep=keep,
                        no_grad=no_grad)

    def ask(self, op: Op, default: tuple, **fields):
        __tracebackhide__ = True
        if op is not Op.RESET:
            self._check_imported(fields)
        self._seq += 1
        encoder = Encoder(keep=_handle_of)
        request = {"seq": self._seq, "op": op.value, "fields": encoder.encode(fields)}
        try:
            header, tensors = self._channel.exchange(request, encoder.tensors)
            if header.get("seq") != self._seq or not isinstance(header.get("answer"), str) \
                    or header["answer"] not in set(Answer):
                raise ProtocolError(f"an answer to another question (seq {header.get('seq')!r})")
            value, lost = decode(header.get("value"), tensors, self._ref), None
        except (SubjectLost, ProtocolError) as error:
            self._channel.discard()
            lost, self.lost = str(error), True
        if lost is not None:  # outside the except clause: the student reads one message, not a chain
            pytest.fail(f"The submission's process stopped answering properly: {lost}. "
                        "(It is started afresh for the next test.)", pytrace=False)
        answer = Answer(header["answer"])
        if answer is Answer.VALUE:
            return value
        if answer is Answer.MISSING:
            if default:
                return default[0]
            self._missing(str(value), fields)
        if answer is Answer.RAISED and isinstance(value, dict):
            raise raised(value)
        pytest.fail(f"The submission's process could not do what the test asked: {value}", pytrace=False)

    def _check_imported(self, fields: dict) -> None:
        if self._channel.ready()["import_error"] is not None:
            target = fields.get("target")
            name = target.get("name") if isinstance(target, dict) else None
            self._not_imported(f", so `{name}` cannot be checked" if name else "")

    def _not_imported(self, what: str) -> None:
        """Fail the test in one line: the whole import error is stated once for the run (the grader's feedback
        opens with it, a student's pytest shows it in its summary), not in each of the hundred tests."""
        __tracebackhide__ = True
        pytest.fail(f"{self.path} could not be imported{what}: {import_error_line(self._channel.ready())} "
                    "(the whole error is shown once, apart from the tests)", pytrace=False)

    def _missing(self, name: str, fields: dict):
        __tracebackhide__ = True
        target = fields.get("target")
        if isinstance(target, dict) and target.get("name") == name:
            cells = "".join(f"\nA notebook cell failed, which may be why:\n{error}"
                            for error in self._channel.ready()["cell_errors"])
            pytest.fail(f"{os.path.basename(self.path)} defines no `{name}`; the assignment requires it "
                        f"(see ASSIGNMENT.md).{cells}", pytrace=False)
        pytest.fail(f"no attribute `{name}` where the assignment requires one", pytrace=False)

    def _ref(self, data: dict) -> Ref:
        ref = self._refs.get(data["handle"])
        if ref is None:
            ref = self._refs[data["handle"]] = Ref(self, data["handle"], data["type"])
        return ref


class _Name:
    """A name the submission defines, to call: ``judge.LoRALayer(10, 6, rank=3)``."""

    def __init__(self, judge: Judge, name: str):
        self._judge, self.name = judge, name

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True
        return self._judge.call({"name": self.name}, args, kwargs)


def _handle_of(value):
    if isinstance(value, Ref):
        return {"handle": value.handle, "type": value.type}
    raise ProtocolError(f"cannot send a {type(value).__name__} to the subject")


# -- channels -------------------------------------------------------------------------------


class LocalChannel:
    """The subject's server in this process: a student's own run."""

    containment: dict[str, str] = {}  # noqa: RUF012  (the same process: nothing contains it)
    started = 1

    def __init__(self, server):
        self.server = server

    def ready(self) -> dict:
        return self.server.ready()

    def exchange(self, request: dict, tensors: dict):
        """The server's answer to the request as encoded data: the values the remote channel would carry, without
        the bytes (the encoders already copy every tensor; nothing of one side is the other's)."""
        return self.server.handle(request, tensors)

    def discard(self) -> None:
        pass


class RemoteChannel:
    """Subjects started by the grader's zygote, one at a time; a broken one is killed and replaced on demand."""

    def __init__(self, zygote_fd: int):
        self.zygote = socket.socket(fileno=zygote_fd)
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self._ready: dict | None = None
        self._failed: dict | None = None  # a subject that could not even import the submission: no second try
        self.started = 0
        self.containment: dict[str, str] = {}  # the first subject's layers, as it applied them

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.zygote, [b"spawn"], [theirs.fileno()])
            answer = self.zygote.recv(64)
        finally:
            theirs.close()
        if not answer.startswith(b"pid "):
            raise SubjectLost("the grader could not start the submission's process")
        self.pid, self.sock, self.started = int(answer[4:]), ours, self.started + 1
        # The layers come first, sent before the submission was imported: the submission cannot rewrite them.
        header, _ = unpack(self.sock.recv)
        layers = header.get("value")
        if header.get("answer") != Answer.CONTAINED or not isinstance(layers, dict):
            raise ProtocolError("the submission's process did not start as it should")
        self.containment = self.containment or {str(k): str(v) for k, v in layers.items()}
        header, _ = unpack(self.sock.recv)
        value = header.get("value")
        if header.get("answer") != Answer.READY or not isinstance(value, dict):
            raise ProtocolError("the submission's process did not start as it should")
        self._ready = _ready(value)

    def ready(self) -> dict:
        """What the current subject's import gave, starting one if there is none. A submission whose import ends
        its process, or outlasts a test's timeout, is not imported again: every later test is told why at once."""
        if self._failed is not None:
            return self._failed
        if self._ready is None:
            try:
                self._start()
            except (SubjectLost, ProtocolError, OSError) as error:
                self.discard()
                self._failed = _not_imported(f"The submission's process ended while importing it: {error}")
            except BaseException:  # the test's timeout went off while it imported
                self.discard()
                self._failed = _not_imported("Importing the submission did not finish within a test's timeout.")
                raise
            else:
                return self._ready
            return self._failed
        return self._ready

    def exchange(self, request: dict, tensors: dict):
        if self.sock is None:
            self.ready()
        if self.sock is None:
            raise SubjectLost("it could not be started")
        try:
            self.sock.sendall(pack(request, tensors))
            return unpack(self.sock.recv)
        except OSError as error:
            raise SubjectLost(f"the channel broke ({error})") from None
        except BaseException:  # pytest-timeout's alarm, an interrupt: the subject is in an unknown state
            self.discard()
            raise

    def discard(self) -> None:
        """Kill the subject (through the zygote, its parent); the next request starts another."""
        if self.pid is not None:
            with contextlib.suppress(OSError):
                self.zygote.sendall(b"kill %d" % self.pid)
                self.zygote.recv(64)
        if self.sock is not None:
            self.sock.close()
        self.sock = self.pid = self._ready = None


LINE_CHARS = 200  # of the exception's line, in each test an import error failed


def import_error_line(ready: dict) -> str:
    """The last line of the import error (the exception and its message), at most ``LINE_CHARS`` characters."""
    lines = [line.strip() for line in (ready["import_error"] or "").splitlines() if line.strip()]
    last = lines[-1] if lines else "no error text"
    return last if len(last) <= LINE_CHARS else last[:LINE_CHARS] + f"... ({len(last):,} characters)"


def _not_imported(why: str) -> dict:
    return {"import_error": why, "cell_errors": [], "printed": "", "printed_chars": 0}


def _ready(value: dict) -> dict:
    """The subject's first frame, checked field by field (it is the submission's process that wrote it)."""
    def text(key, default=""):
        found = value.get(key, default)
        return found if isinstance(found, str) or found is None else str(found)

    errors = value.get("cell_errors")
    chars = value.get("printed_chars")
    return {"import_error": text("import_error", None), "printed": text("printed"),
            "cell_errors": [str(e) for e in errors] if isinstance(errors, list) else [],
            "printed_chars": chars if isinstance(chars, int) else 0}


def remote_channel() -> RemoteChannel | None:
    """The grader's channel, when this process is a judge the grader started."""
    return RemoteChannel(int(_ZYGOTE_FD)) if _ZYGOTE_FD is not None else None


__all__ = ["Judge", "LocalChannel", "Ref", "SubjectRaised", "remote_channel"]
