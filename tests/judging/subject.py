"""The subject: the one place the submission's code runs, carrying out what the judge asks (``protocol.py``).

It holds the objects the submission's code made (a LoRALayer, a model with LoRA) under
numbered handles, and answers every request with data: values, tensors, descriptions
of parameters and modules. It decides nothing: whatever it says is judged by the suite,
which recomputes what it can with its own code and its own copies of the models.

This module is all the subject process has of the suite: it contains no test and no
expected value. When grading, it runs in a contained process of its own (the grader's
``worker.py`` starts it); a student's ``pytest`` runs it in the same process as the tests
(``judge.py``'s local channel), on the same encoded requests, so that both judge alike.

Builtins are what the judge needs built on the subject's side without trusting the
submission: a plain ``nn.Linear``, a spy on a class's constructor, a seed. A suite adds
its own (``subject_builtins.py`` beside its tests: a fresh tiny model from the subject's
read-only copy, a few optimiser steps), as functions that take this server first.
"""

import functools
import random
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from . import global_state
from .protocol import Answer, Encoder, Handle, Op, ParameterInfo, ProtocolError, decode, pack, unpack
from .submission import LoadedSubmission

MAX_PRINTED = 4000  # of what importing printed, the start the judge is shown


class Refused(Exception):
    """A request that cannot be carried out as asked; the judge is told why."""


class Server:
    """Carries out requests on one imported submission."""

    def __init__(self, loaded: LoadedSubmission, models: Path, device: str = "cpu",
                 builtins: Mapping[str, Callable] | None = None):
        self.loaded, self.models, self.device = loaded, models, device
        self.suite_builtins = dict(builtins or {})  # name -> function(server, ...): the suite's own
        self.objects: dict[int, object] = {}  # handle -> object
        self.handles: dict[int, int] = {}  # id(object) -> handle
        self.spies: dict[str, _Spy] = {}  # a class of the submission's -> what its constructor was given

    def ready(self) -> dict:
        printed = self.loaded.output
        return {"import_error": self.loaded.error, "cell_errors": list(self.loaded.cell_errors),
                "printed": printed[:MAX_PRINTED], "printed_chars": len(printed)}

    # -- one request ----------------------------------------------------------------------

    def handle(self, header: dict, tensors: dict) -> tuple[dict, dict]:
        seq = header.get("seq")
        encoder = Encoder(keep=self._keep)
        try:
            op, fields = Op(header["op"]), decode(header["fields"], tensors, self._object, self._place)
            with global_state.suite_settings():
                answer, value = Answer.VALUE, getattr(self, f"_op_{op.value}")(**fields)
        except _Missing as missing:
            answer, value = Answer.MISSING, str(missing)
        except _SubmissionRaised as raised:
            answer, value = Answer.RAISED, raised.describe()
        except Exception as error:  # Refused, or a request this side cannot read: the judge hears why
            answer, value = Answer.REFUSED, f"{type(error).__name__}: {error}"
        try:
            data = self._keep(value.value) if isinstance(value, _Kept) else encoder.encode(value)
        except ProtocolError as error:
            answer, data, encoder.tensors = Answer.REFUSED, str(error), {}
        return {"seq": seq, "answer": answer.value, "value": data}, encoder.tensors

    def _keep(self, value) -> Handle:
        key = id(value)
        if key not in self.handles:
            self.handles[key] = len(self.objects) + 1
            self.objects[self.handles[key]] = value
        return {"handle": self.handles[key], "type": f"{type(value).__module__}.{type(value).__qualname__}"}

    def _object(self, handle: dict):
        if handle["handle"] not in self.objects:
            raise Refused(f"no object {handle['handle']} here (the subject may have been restarted)")
        return self.objects[handle["handle"]]

    def _place(self, ref: dict, tensor: torch.Tensor) -> torch.Tensor:
        device = self.device if ref["device"] == "subject" else ref["device"]
        tensor = tensor.to(device)
        return tensor.requires_grad_(True) if ref["requires_grad"] else tensor

    # -- the operations -------------------------------------------------------------------

    def _op_reset(self, seed: int = 0):
        for spy in self.spies.values():
            spy.remove()
        self.spies.clear()
        self.objects.clear()
        self.handles.clear()
        global_state.manual_seed(seed)
        random.seed(seed)

    def _op_call(self, target: dict, args=(), kwargs=None, keep: bool = False, no_grad: bool = False):
        function = self._target(target)
        with torch.no_grad() if no_grad else torch.enable_grad():
            result = _submission_code(function, *args, **(kwargs or {}))
        return _Kept(result) if keep else result

    def _op_get(self, target, path: str):
        return _resolve(target, path)

    def _op_set(self, target, path: str, value):
        parent, _, name = path.rpartition(".")
        _submission_code(setattr, _resolve(target, parent), name, value)

    def _op_assign(self, target, path: str, value):
        tensor = _resolve(target, path)
        if not isinstance(tensor, torch.Tensor):
            raise Refused(f"{path} is a {type(tensor).__name__}, not a tensor")
        with torch.no_grad():
            _submission_code(tensor.copy_, value)

    def _op_parameters(self, target) -> list[ParameterInfo]:
        named = _submission_code(lambda: list(_module(target).named_parameters()))
        return [{"name": name, "shape": list(p.shape), "dtype": str(p.dtype).removeprefix("torch."),
                 "device": p.device.type, "requires_grad": bool(p.requires_grad),
                 "is_parameter": isinstance(p, nn.Parameter), "identity": id(p)} for name, p in named]

    def _op_modules(self, target, kinds=()):
        classes = {kind: self._class(kind) for kind in kinds}
        named = _submission_code(lambda: list(_module(target).named_modules()))
        return [{"name": name, "type": f"{type(m).__module__}.{type(m).__qualname__}", "identity": id(m),
                 "kinds": [kind for kind, cls in classes.items() if cls is not None and isinstance(m, cls)]}
                for name, m in named]

    def _op_tensors(self, target, names=None):
        named = dict(_submission_code(lambda: list(_module(target).named_parameters())))
        wanted = named if names is None else {n: named[n] for n in names if n in named}
        return {name: tensor.detach() for name, tensor in wanted.items()}

    def _op_backward(self, target, grad=None):
        if not isinstance(target, torch.Tensor):
            raise Refused("backward from something that is not a tensor")
        _submission_code(target.backward, grad)

    # -- what a request may name ------------------------------------------------------------

    def _target(self, target: dict):
        if "name" in target:
            return self._name(target["name"])
        if "builtin" in target:
            name = target["builtin"]
            if name in self.suite_builtins:
                return functools.partial(self.suite_builtins[name], self)
            builtin = getattr(self, f"_builtin_{name}", None)
            if builtin is None:
                raise Refused(f"no builtin {name!r}")
            return builtin
        obj = target["object"]
        return obj if target.get("method") is None else _resolve(obj, target["method"])

    def _name(self, name: str):
        module = self.loaded.module
        if module is None:
            raise Refused("the submission could not be imported")
        if not hasattr(module, name):
            raise _Missing(name)
        return getattr(module, name)

    def _class(self, kind: str):
        if kind == "nn.Linear":
            return nn.Linear
        module = self.loaded.module
        cls = getattr(module, kind, None) if module is not None else None
        return cls if isinstance(cls, type) else None

    # -- builtins: what the judge needs made on this side -----------------------------------

    def _builtin_linear(self, in_features: int, out_features: int, bias: bool = True, dtype=None, device=None,
                        weight=None, bias_values=None):
        linear = nn.Linear(in_features, out_features, bias=bias, dtype=dtype, device=device or self.device)
        with torch.no_grad():
            if weight is not None:
                linear.weight.copy_(weight)
            if bias_values is not None:
                linear.bias.copy_(bias_values)
        return linear

    def _builtin_sequential(self, *modules):
        return nn.Sequential(*modules)

    def _builtin_tied_linears(self, size: int):
        model = nn.Sequential(nn.Linear(size, size), nn.Linear(size, size))
        model[1].weight = model[0].weight  # tied, as input and output embeddings often are
        return model

    def _builtin_requires_grad(self, model, flags):
        """Set requires_grad of every parameter: ``flags`` is one boolean, or parameter name -> boolean."""
        for name, param in _submission_code(lambda: list(model.named_parameters())):
            if isinstance(flags, bool) or name in flags:
                param.requires_grad = flags if isinstance(flags, bool) else bool(flags[name])

    def _builtin_identity(self, obj, path: str = ""):
        """Which object ``path`` of ``obj`` is (``id``), to compare with the identities of a parameter listing."""
        return id(_resolve(obj, path))

    def _builtin_seed(self, seed: int) -> None:
        """The random generators seeded again: two calls that draw alike (a LoRALayer's dropout, alone and
        inside its LinearLoRA) are compared."""
        global_state.manual_seed(seed)
        random.seed(seed)

    def _builtin_spy(self, name: str) -> None:
        """Record what the submission's class ``name`` is constructed with, until the next reset: how a test
        sees what ``add_lora`` gives ``LinearLoRA``, or ``LinearLoRA`` its ``LoRALayer``, without judging
        what those classes then do with it."""
        cls = self._class(name)
        if cls is None:
            raise _Missing(name)
        if name not in self.spies:
            self.spies[name] = _Spy(cls)
        self.spies[name].calls.clear()

    def _builtin_calls(self, name: str) -> list[dict]:
        """What the spied class ``name`` was constructed with since it was spied: its arguments as given."""
        spy = self.spies.get(name)
        if spy is None:
            raise Refused(f"{name} is not spied on")
        return [{"args": list(args), "kwargs": dict(kwargs)} for args, kwargs in spy.calls]

    def _builtin_keep(self, value):
        """The value itself: called with ``keep`` it becomes a handle (a tensor to backpropagate to)."""
        return value


class _Missing(Exception):
    """The submission defines no such name."""


class _Spy:
    """A class's ``__init__`` replaced, in place, by one that records its arguments and calls it: the class keeps
    its identity (``isinstance``, ``super(LinearLoRA, self)`` in the submission's code) and gets its own
    ``__init__`` back at the next reset."""

    def __init__(self, cls: type):
        self.cls, self.calls = cls, []
        self.own = cls.__dict__.get("__init__")  # None: inherited, so the spy's is deleted, not replaced
        original, calls = cls.__init__, self.calls

        def __init__(instance, *args, **kwargs):
            calls.append((args, kwargs))
            original(instance, *args, **kwargs)

        cls.__init__ = __init__

    def remove(self) -> None:
        if self.own is not None:
            self.cls.__init__ = self.own
        else:
            del self.cls.__init__


class _Kept:
    """A result to keep as a handle whatever it is (a tensor to backpropagate from later)."""

    def __init__(self, value):
        self.value = value


class _SubmissionRaised(Exception):
    def __init__(self, error: BaseException):
        self.error = error

    def describe(self) -> dict:
        frames = [frame for frame in traceback.extract_tb(self.error.__traceback__)
                  if not frame.filename.startswith(_THIS_FOLDER)]
        message = str(self.error)
        builtin = [cls.__name__ for cls in type(self.error).__mro__ if cls.__module__ == "builtins"]
        return {"type": type(self.error).__name__, "builtins": builtin, "message": message[:20_000],
                "where": "".join(traceback.format_list(frames[-8:]))[:20_000]}


_THIS_FOLDER = str(Path(__file__).resolve().parent.parent)  # the suites and this package: never the submission


def _submission_code(function, *args, **kwargs):
    """Call into code the submission may have written (its functions, its modules' methods)."""
    try:
        return function(*args, **kwargs)
    except (KeyboardInterrupt, SystemExit) as error:
        raise _SubmissionRaised(error) from None
    except Exception as error:
        raise _SubmissionRaised(error) from None


def _resolve(obj, path: str):
    for name in filter(None, path.split(".")):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise _Missing(name) from None
        except Exception as error:  # a property of the submission's that raises
            raise _SubmissionRaised(error) from None
    return obj


def _module(obj) -> nn.Module:
    if not isinstance(obj, nn.Module):
        raise Refused(f"a {type(obj).__name__}, not a torch module")
    return obj


def serve(channel, server: Server) -> None:
    """Answer requests on ``channel`` (a connected socket) until the judge closes it."""
    channel.sendall(pack({"seq": 0, "answer": Answer.READY.value, "value": server.ready()}, {}))
    while True:
        try:
            header, tensors = unpack(channel.recv)
        except ProtocolError:
            return  # the judge is gone
        reply, out = server.handle(header, tensors)
        channel.sendall(pack(reply, out))

