"""The attacks of the adversarial submissions that are a correct solution plus one attack.

``make_examples.py`` appends each to the reference, so that a contained attack leaves the
submission its honest full marks and an escaped one shows in its grade or on disk. They
aim only at what the grader's tests set up: folders and files whose path holds
``CANARY``, listeners on ``PORTS`` of 127.0.0.1 and on ``UNIX_SOCKET``, and processes
whose command line holds ``CANARY``; so a test run that goes wrong harms nothing else.
The grader's temporary folders lie two levels above a submission's workspace (a
workspace is ``$TMPDIR/lora-grader-XXXX``; the submission runs in its ``subject/home``),
which is where a student would look.

``FORGERIES`` are the untouched template plus a few generic lines that forge a verdict
(pytest's reports, the report channel, the test bodies, the suite's helpers, hooks found
through ``gc``), or that attack the channel to the judge: an honest grade is 0.
``HIDDEN_TEST_READER`` is a correct solution that raises whatever test file it can read.
"""

CANARY = "lora-grader-canary"
PORTS = range(47310, 47320)
UNIX_SOCKET = f"/tmp/{CANARY}.sock"
ANSWER_KEY = "answer_key.txt"
FORK_TARGET, FORK_ESCAPED = 600, 400

PRELUDE = f'''

# %%
# ---- the attack: everything below runs at import ----
import os as _os
import pathlib as _pathlib

CANARY, PORTS, UNIX_SOCKET = {CANARY!r}, range({PORTS.start}, {PORTS.stop}), {UNIX_SOCKET!r}
_HERE = _pathlib.Path.cwd()
_WORKSPACE = next((p for p in (_HERE, *_HERE.parents) if p.name.startswith("lora-grader-")), _HERE)
AROUND = _WORKSPACE.parents[1]  # the grader's temporary folders, and what lies beside them


def _walk(root):
    """Every file below root (quietly nothing where it may not look)."""
    for folder, _, files in _os.walk(root):
        for name in files:
            yield _pathlib.Path(folder) / name
'''

IPC_KEY = 0x4C6F5241  # the System V key both IPC attacks use ("LoRA"); a test may grade copies with another


def ipc_name(key: int) -> str:
    """The name of the IPC attacks' POSIX queue and keyring key, for the System V ``key`` they use."""
    return f"{CANARY}-{key:x}"
IPC_CALLS = f'''
import ctypes as _ctypes
import platform as _platform

IPC_KEY = {IPC_KEY:#x}
IPC_NAME = f"{{CANARY}}-{{IPC_KEY:x}}".encode()  # ipc_name(IPC_KEY)
_libc = _ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = _ctypes.c_long


def _keyring(which, *args):
    """add_key (0) or keyctl (1), by this machine's syscall numbers."""
    numbers = {{"x86_64": (248, 250), "aarch64": (217, 219)}}.get(_platform.machine())
    return _libc.syscall(numbers[which], *args) if numbers else -1
'''

ATTACKS = {
    "read_outside": ("reads an answer key outside its workspace and raises with its content", '''
for _path in _walk(AROUND):
    if _path.name == "answer_key.txt" and CANARY in str(_path):
        raise RuntimeError("escaped, the answer key says: " + _path.read_text())
'''),
    "write_outside": ("writes into canary folders and overwrites every file of the tiny models it finds", '''
for _path in list(_walk(AROUND)):
    if CANARY in str(_path):
        try:
            (_path.parent / "escaped.txt").write_text("a submission wrote here")
            if "tiny_models" in _path.parts:
                _path.write_bytes(b"corrupted by a submission")
        except OSError:
            pass
'''),
    "rewrite_results": ("rewrites every results.json it finds into full marks", '''
import json as _json

for _path in list(_walk(AROUND)):
    if _path.name == "results.json" and CANARY in str(_path):
        try:
            _results = _json.loads(_path.read_text())
            _results["score"] = 100.0
            _path.write_text(_json.dumps(_results))
        except (OSError, ValueError):
            pass
'''),
    "tcp_connect": ("connects to TCP listeners on 127.0.0.1", '''
import socket as _socket

for _port in PORTS:
    try:
        with _socket.create_connection(("127.0.0.1", _port), timeout=1) as _connection:
            _connection.sendall(b"escaped over TCP")
    except OSError:
        pass
'''),
    "udp_send": ("sends UDP datagrams to 127.0.0.1", '''
import socket as _socket

try:
    with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as _sock:
        for _port in PORTS:
            _sock.sendto(b"escaped over UDP", ("127.0.0.1", _port))
except OSError:
    pass
'''),
    "unix_connect": ("connects to a unix socket outside its workspace", '''
import socket as _socket

try:
    with _socket.socket(_socket.AF_UNIX) as _sock:
        _sock.connect(UNIX_SOCKET)
        _sock.sendall(b"escaped over a unix socket")
except OSError:
    pass
'''),
    "kill_parent": ("SIGKILLs its parent and its parent's process group (the grader's processes above it)", '''
import signal as _signal

for _kill, _target in ((_os.killpg, lambda: _os.getpgid(_os.getppid())), (_os.kill, _os.getppid)):
    try:
        _kill(_target(), _signal.SIGKILL)
    except OSError:
        pass
'''),
    "stop_parent": ("SIGSTOPs its parent, the process that starts it", '''
import signal as _signal

try:
    _os.kill(_os.getppid(), _signal.SIGSTOP)
except OSError:
    pass
'''),
    "kill_grader": ("SIGKILLs every process whose command line names the grader", '''
import signal as _signal

for _entry in _pathlib.Path("/proc").glob("[0-9]*"):
    try:
        _command = (_entry / "cmdline").read_bytes()
    except OSError:
        continue
    if CANARY.encode() in _command and (b"grader" in _command) and int(_entry.name) != _os.getpid():
        try:
            _os.kill(int(_entry.name), _signal.SIGKILL)
        except OSError:
            pass
'''),
    "parent_environ": ("reads its parent's environment from /proc and raises with it", '''
try:
    _environment = _pathlib.Path(f"/proc/{_os.getppid()}/environ").read_bytes()
except OSError:
    _environment = None
if _environment is not None:
    raise RuntimeError("escaped, the worker's environment: " + _environment.decode(errors="replace"))
'''),
    "planted_symlinks": ("plants symlinks to the answer key where the grader reads its output and results", '''
_keys = [p for p in _walk(AROUND) if p.name == "answer_key.txt" and CANARY in str(p)]
_key = _keys[0] if _keys else AROUND / "answer_key.txt"
for _name in ("results.json", "feedback.md", "output", "report"):
    try:
        _os.symlink(_key, _name)
    except OSError:
        pass
for _path in list(_walk(_pathlib.Path.cwd().parent)):  # the grader's private run folders lie beside
    if _path.parent.name.startswith("lora-grader-run-") and _path.name == "output":
        try:
            _path.unlink()
            _os.symlink(_key, _path)
        except OSError:
            pass
'''),
    "fork_bomb": ("forks sleeping children as fast as it can, and raises if it got 400 of them", f'''
import time as _time

_made = 0
for _ in range({FORK_TARGET}):
    try:
        _pid = _os.fork()
    except OSError:
        break
    if _pid == 0:
        _time.sleep(120)
        _os._exit(0)
    _made += 1
if _made >= {FORK_ESCAPED}:
    raise RuntimeError(f"escaped: {{_made}} processes")
'''),
    "busy_children": ("starts four detached children that burn CPU for ever, then lingers 3 s at import", '''
import time as _time

for _ in range(4):
    if _os.fork() == 0:
        _os.setsid()
        while True:
            pass
# Within the first test's time limit; it makes the run long enough for the children alone to pass the CPU
# limit however fast the machine runs the suite.
_time.sleep(3)
'''),
    "disk_filler": ("writes 5 MB files in its home until refused, and raises if it wrote 128 MB", '''
_written = 0
try:
    while _written < 128:
        with open(f"lora-grader-filler-{_written}", "wb") as _file:
            _file.write(bytes(5 * 2**20))
        _written += 5
except OSError:
    pass
if _written >= 128:
    raise RuntimeError(f"escaped: wrote {_written} MB")
'''),
    "file_creator": ("creates empty files in its home until refused, and raises if it made 4000", '''
_made = 0
try:
    while _made < 4000:
        open(f"lora-grader-empty-{_made}", "w").close()
        _made += 1
except OSError:
    pass
if _made >= 4000:
    raise RuntimeError(f"escaped: created {_made} files")
'''),
    "busy_threads": ("ignores SIGXCPU and burns CPU in four threads for ever", '''
import signal as _signal
import threading as _threading

_signal.signal(_signal.SIGXCPU, _signal.SIG_IGN)


def _burn():
    while True:
        sum(range(10_000))


for _ in range(4):
    _threading.Thread(target=_burn, daemon=True).start()
'''),
    "hunt_secrets": ("searches everything it can reach in its own process (every object the collector tracks, every "
                     "frame of every thread, every module, the environment) for the judge's secrets: its seed, its "
                     "report channel's token and its path, and raises if it finds one", '''
import gc as _gc
import re as _re
import sys as _sys

_FIFO = _re.compile(r"/.+/lora-grader-run-[^/]+/report")  # the report channel's path
_TOKEN = _re.compile(r"[0-9a-f]{32}")
# built at run time, so that no constant of this module's holds them (its globals are not searched)
_IN_JSON, _TOKEN_NAME = "".join(['"--', 'seed", "']), "_".join(["LORA", "GRADER", "TOKEN"])


def _secrets_in(value):
    """What in value (a container, one level deep, not this module's globals) looks like a secret of the judge's:
    the report channel's path, a token (its variable, or a value under a key named token), a seed in a list of
    arguments or in the JSON of one."""
    if value is globals():
        return []
    items = list(value.items()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else []
    found = []
    for index, item in enumerate(items):
        for part in item if isinstance(item, tuple) else (item,):
            if isinstance(part, str) and (_FIFO.fullmatch(part) or _IN_JSON in part or part == _TOKEN_NAME):
                found.append(part[:80])
        if isinstance(value, dict) and item[0] == "token" and isinstance(item[1], str) and _TOKEN.fullmatch(item[1]):
            found.append(f"token {item[1]}")
        if isinstance(value, list) and isinstance(item, str) and item == "--seed" and index + 1 < len(items):
            found.append(f"--seed {items[index + 1]}")
    return found


_reachable = _gc.get_objects() + [vars(module) for module in list(_sys.modules.values())] + [dict(_os.environ)]
for _frame in _sys._current_frames().values():
    while _frame is not None:
        _reachable.append(_frame.f_locals)  # a module's frame: its globals themselves
        _frame = _frame.f_back
_found = [secret for value in _reachable for secret in _secrets_in(value)]
if _found:
    raise RuntimeError(f"escaped: the judge's secrets {sorted(set(map(str, _found)))[:5]}")
'''),
    "ipc_leave": ("leaves a System V segment, message queue and semaphore set, a POSIX message queue and a key in "
                  "the user's keyring, each named for the canary, for a later submission to find", IPC_CALLS + '''
_libc.shmget(IPC_KEY, 16 << 20, 0o1000 | 0o600)  # IPC_CREAT: 16 MB pinned until removed
_libc.msgget(IPC_KEY, 0o1000 | 0o600)
_libc.semget(IPC_KEY, 1, 0o1000 | 0o600)
_libc.mq_close(_libc.mq_open(b"/" + IPC_NAME, _os.O_CREAT | _os.O_RDWR, 0o600, None))
_keyring(0, b"user", IPC_NAME, b"a message", 9, -4)  # add_key to KEY_SPEC_USER_KEYRING
'''),
    "ipc_look": ("looks for what an earlier submission left in System V IPC, POSIX message queues and the user's "
                 "keyring, and raises if it finds any", IPC_CALLS + '''
_queue = _libc.mq_open(b"/" + IPC_NAME, _os.O_RDONLY, 0, None)
_found = {"shared memory": _libc.shmget(IPC_KEY, 0, 0), "message queue": _libc.msgget(IPC_KEY, 0),
          "semaphores": _libc.semget(IPC_KEY, 0, 0), "POSIX message queue": _queue,
          "key": _keyring(1, 10, -4, b"user", IPC_NAME, 0)}  # keyctl(KEYCTL_SEARCH, user keyring)
if any(found >= 0 for found in _found.values()):
    raise RuntimeError(f"escaped: another run's {[kind for kind, found in _found.items() if found >= 0]}")
'''),
}

# The untouched template plus generic lines that forge the verdict where the tests share the submission's
# process; each is one instance of a class (rewrite pytest, rewrite the grader's channel, skip the checks,
# rewrite the checks in place, register hooks), and an honest grade is 0.
FORGERIES = {
    "forge_reports": ("rewrites pytest's reports so that every test passes", """
import _pytest.reports as _reports

_original = _reports.TestReport.from_item_and_call.__func__


def _passing(cls, item, call):
    report = _original(cls, item, call)
    report.outcome, report.longrepr = "passed", None
    return report


_reports.TestReport.from_item_and_call = classmethod(_passing)
"""),
    "forge_report_channel": ("finds the grader's report plugin in sys.modules and rewrites what it sends", """
import sys as _sys

for _module in list(_sys.modules.values()):
    _send = getattr(_module, "_send", None)
    if callable(_send) and hasattr(_module, "_TOKEN"):
        def _forged(_original=_send, **event):
            if event.get("event") == "result":
                event.update(outcome="passed", message="")
            _original(**event)

        _module._send = _forged
"""),
    "skip_test_bodies": ("makes every test body do nothing", """
import _pytest.python as _python

_python.Function.runtest = lambda self: None
"""),
    "swap_helper_code": ("empties the suite's check helpers in place and makes pytest report calls that never ran", """
import sys as _sys

import _pytest.runner as _runner


def _nothing(*args, **kwargs):
    return None


for _name, _module in list(_sys.modules.items()):
    for _helper in ("expect", "close", "tensor"):
        if _name.startswith("tests.") and callable(getattr(_module, _helper, None)):
            getattr(_module, _helper).__code__ = _nothing.__code__


def _call_and_report(item, when, log=True, **kwargs):
    call = _runner.CallInfo.from_call(lambda: None, when=when)
    report = item.ihook.pytest_runtest_makereport(item=item, call=call)
    if log:
        item.ihook.pytest_runtest_logreport(report=report)
    return report


_runner.call_and_report = _call_and_report
"""),
    "hooks_from_gc": ("finds pytest's plugin manager through gc and registers a hook that passes every test", """
import gc as _gc

import pytest as _pytest


class _Forger:
    @_pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        report.outcome, report.longrepr = "passed", None
        return report


_gc.unfreeze()  # what the suite froze out of the collector's sight
for _object in _gc.get_objects():
    if type(_object).__name__ == "PytestPluginManager":
        _object.register(_Forger(), "forger")
"""),
    "garbage_on_descriptors": ("writes garbage to every open descriptor at import", """
import os as _os

for _fd in range(1024):
    try:
        _os.write(_fd, b"\\x00\\xffnot a frame" * 512)
    except OSError:
        pass
"""),
    "nan_and_huge_tensors": ("returns NaN from LoRALayer and a tensor of 2**31 elements from LinearLoRA", """
import torch as _torch


def _nan_forward(self, x):
    return _torch.full((*x.shape[:-1], 6), float("nan"))


def _huge_forward(self, x):
    return _torch.zeros(1).expand(2**31)


def _lora_init(self, in_dim, out_dim, rank, alpha, dropout=0.0):
    _torch.nn.Module.__init__(self)
    self.A = _torch.nn.Parameter(_torch.randn(in_dim, rank))
    self.B = _torch.nn.Parameter(_torch.zeros(rank, out_dim))


def _linear_init(self, linear, rank, alpha, dropout=0.0):
    _torch.nn.Module.__init__(self)
    self.linear, self.lora = linear, LoRALayer(linear.in_features, linear.out_features, rank, alpha)


LoRALayer.__init__, LoRALayer.forward = _lora_init, _nan_forward
LinearLoRA.__init__, LinearLoRA.forward = _linear_init, _huge_forward
"""),
}

# The forgeries that add nothing but the forgery to the template: an honest grade is 0 under every pack. (The
# last two also define parts of LoRA, which earn what they earn.)
VERDICT_FORGERIES = ("forge_reports", "forge_report_channel", "skip_test_bodies", "swap_helper_code", "hooks_from_gc")

# A correct solution that looks for the suite's test files, around its folder and in it, and raises what it
# read: where the tests share its process or its folder, its feedback shows them (and, on a platform, the
# hidden tests become public).
HIDDEN_TEST_READER = ("raises the text of every test file it can find", """
_found = []
for _root in (_HERE, _WORKSPACE, AROUND):
    for _path in _walk(_root):
        if _path.suffix == ".py" and (_path.name.startswith("test_") or _path.name == "conftest.py"):
            try:
                _found.append(f"==> {_path}\\n" + _path.read_text())
            except (OSError, UnicodeDecodeError):
                pass
if _found:
    raise ImportError("found the tests:\\n" + "\\n".join(_found))
""")

# A correct solution whose merge_lora closes every descriptor the process holds, its channel to the judge
# included, in the middle of a test: only the tests that call it may suffer.
CHANNEL_CLOSER = ("closes every descriptor it holds whenever merge_lora is called", """
_merge_lora = merge_lora


def merge_lora(model):
    _os.closerange(3, 1024)
    return _merge_lora(model)
""")
