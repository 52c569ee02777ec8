"""Run the assignment suite on one submission in a process of its own, within limits.

The test process is forked by a warm ``grader.worker`` (torch and transformers
already imported) and runs ``pytest`` in a fresh private workspace holding the
submission's module and the grader's own copies of the tests, the tiny models and
the data, with a scrubbed, offline environment. It reports each test over a FIFO
(``child_plugin.py``); what it never reports counts as not passed. Limits:

- a per-test timeout (pytest-timeout, inside the child);
- a wall-clock limit for the whole submission and a memory limit (the resident
  memory of all its processes), enforced from here; a cap on the output kept; the
  kernel's file-size limit and, on the CPU, an address-space limit as backstops;
- on expiry the child's process group gets SIGTERM, then SIGKILL after a short
  grace. Whatever the submission started, detached daemons included, ends up a child
  of the worker (a child subreaper), which kills it before the next run.
"""

import contextlib
import ctypes
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from . import layout

MARKER = "LORA_GRADER_RUN"
PLUGIN_MODULE = "_lora_grader_report"
GRACE_SECONDS = 1.0
POLL_SECONDS = 0.1
PR_SET_CHILD_SUBREAPER = 36
WORKER_START_SECONDS = 180


@dataclass
class Limits:
    test_timeout: float = 60.0  # seconds per test
    timeout: float = 600.0  # seconds for the whole submission, wall clock
    memory_mb: int = 4096  # resident memory of all the submission's processes
    output_kb: int = 64  # output of the child that is kept for the instructor
    file_mb: int = 64  # largest file the child may write


@dataclass
class TestReport:
    __test__ = False  # a record, not a pytest test class

    outcome: str  # passed, failed or skipped
    message: str = ""
    duration: float = 0.0


@dataclass
class Run:
    """What happened to one submission's test process."""

    reports: dict[str, TestReport] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)  # test ids, in the order they started
    collected: list[dict] = field(default_factory=list)
    submission: dict = field(default_factory=dict)  # import error, notebook cell errors
    stopped: str | None = None  # "timed out" or "out of memory" when the grader stopped it
    exit_code: int | None = None
    output: str = ""
    output_dropped: int = 0  # bytes of output beyond the cap
    seconds: float = 0.0


def become_subreaper() -> None:
    """Make orphaned descendants (daemons a submission detaches) children of this process (Linux)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the process-group kill still applies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def prepare_workspace(workspace: Path) -> None:
    """The grader's copies of the tests, models and data, and the report plugin, in ``workspace``."""
    tests = workspace / "tests"
    shutil.copytree(layout.SUITE, tests / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    layout.copy_suite_root(tests)
    layout.copy_models_and_data(workspace)
    shutil.copy(Path(__file__).with_name("child_plugin.py"), workspace / f"{PLUGIN_MODULE}.py")
    (workspace / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (workspace / "tmp").mkdir()


def run_environment(workspace: Path, run_id: str, token: str) -> dict[str, str]:
    """What a run sets on top of the worker's environment: its own home, temp and marker."""
    return {
        "HOME": str(workspace),
        "TMPDIR": str(workspace / "tmp"),
        "HF_HOME": str(workspace / "tmp" / "huggingface"),
        MARKER: run_id,
        "LORA_GRADER_TOKEN": token,
    }


def worker_environment(home: Path) -> dict[str, str]:
    """Only what the tests need: offline, single-threaded, nothing of the grader's own environment.
    Libraries read some of it at import time, which happens once, in the worker."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "HF_HOME": str(home / "huggingface"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def pytest_command(submission: str | None, device: str, hidden: bool, limits: Limits, collect_only=False) -> list[str]:
    """The arguments of ``pytest.main`` in the test process."""
    args = ["tests/assignment", "-q", "--no-header", "-p", "no:cacheprovider", "-p", "pytest_timeout",
            "-p", PLUGIN_MODULE, "-o", "addopts=", "--rootdir", ".", "--timeout", str(limits.test_timeout),
            "--device", device]
    if not hidden:
        args += ["-m", "not hidden"]
    if submission:
        args += ["--submission", submission]
    if collect_only:
        args.append("--collect-only")
    return args


def rlimits(limits: Limits, device: str) -> dict[str, int]:
    """Kernel-enforced backstops: file size, and on CPU the address space (an honest run maps about
    1.1 GB for 0.4 GB resident; CUDA maps far more, so there only the watchdog applies)."""
    found = {"RLIMIT_FSIZE": limits.file_mb * 2**20}
    if device == "cpu":
        found["RLIMIT_AS"] = (limits.memory_mb + 2048) * 2**20
    return found


def process_parents() -> dict[int, int]:
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def descendants(root: int) -> list[int]:
    """Every process below ``root`` in the process tree."""
    parents, found, frontier = process_parents(), [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def marked_processes(run_id: str) -> list[int]:
    """Processes whose environment carries this run's marker (what the run exec'd), wherever they went."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                found.append(int(entry))
        except OSError:
            continue
    return found


def resident_mb(pids: list[int]) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def reap_orphans() -> list[int]:
    """Kill the processes orphaned into this (subreaper) process: a second line behind the workers."""
    killed = []
    for pid, parent in process_parents().items():
        if parent == os.getpid() and pid not in Worker.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                killed.append(pid)
            except (ProcessLookupError, ChildProcessError):
                pass
    return killed


class WorkerError(RuntimeError):
    """A worker that could not be started."""


class Worker:
    """The grader's side of one ``grader.worker`` process; started on first use, restarted if it dies."""

    pids: ClassVar[set[int]] = set()  # every live worker, so that reap_orphans spares them

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.home = Path(tempfile.mkdtemp(prefix="lora-grader-worker-"))
        self.pending = b""  # bytes read from the worker, not yet a whole line

    def ensure_started(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        launch = (f"import sys; sys.path.insert(0, {str(layout.ROOT)!r}); "
                  "from grader.worker import main; main()")
        self.spawn([sys.executable, "-c", launch])
        if self.receive(WORKER_START_SECONDS) != {"ready": True}:
            self.close()
            raise WorkerError("a grading worker did not start: can it import torch, transformers and pytest?")

    def spawn(self, command: list[str]) -> None:
        self.pending = b""
        self.process = subprocess.Popen(command, cwd=self.home, bufsize=0, env=worker_environment(self.home),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        Worker.pids.add(self.process.pid)

    def receive(self, timeout: float) -> dict | None:
        """The worker's next message; None if none came within ``timeout``; ``{"gone": True}`` if it died.

        Lines are split here, on the raw descriptor: a buffered reader could hold a second
        message ("exited" right after "started") where ``select`` cannot see it.
        """
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.process.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                return {"gone": True}
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def start_run(self, request: dict) -> int:
        self.ensure_started()
        self.process.stdin.write((json.dumps({**request, "hide": str(layout.ROOT)}) + "\n").encode())
        answer = self.receive(30)
        if not answer or "started" not in answer:
            self.close()
            raise WorkerError("a grading worker stopped answering")
        return answer["started"]

    def close(self) -> None:
        if self.process is not None:
            Worker.pids.discard(self.process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        shutil.rmtree(self.home, ignore_errors=True)


class _Listener:
    """Reads the child's report FIFO on a thread of its own."""

    def __init__(self, run: Run, fifo: Path, token: str):
        self.run, self.fifo, self.token = run, fifo, token
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.fifo, encoding="utf-8", errors="replace") as pipe:  # blocks until the child opens it
            for line in pipe:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and event.get("token") == self.token:
                    with self.lock:
                        self._apply(event)

    def _apply(self, event: dict) -> None:
        run, kind = self.run, event.get("event")
        if kind == "collected":
            run.collected = event.get("tests", [])
        elif kind == "start":
            run.started.append(event["test"])
        elif kind == "result":
            previous = run.reports.get(event["test"])
            if previous is None or previous.outcome == "passed":  # a failing teardown overrides a pass
                run.reports[event["test"]] = TestReport(event["outcome"], event.get("message", ""),
                                                        float(event.get("duration", 0.0)))
        elif kind == "submission":
            run.submission = event

    def finish(self) -> None:
        """Once the child is gone: unblock a reader still waiting for a writer, then wait briefly."""
        with contextlib.suppress(OSError):
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        self.thread.join(timeout=2)


def kept_output(path: Path, cap: int) -> tuple[str, int]:
    try:
        with open(path, "rb") as f:
            kept = f.read(cap)
        return kept.decode("utf-8", errors="replace"), max(path.stat().st_size - cap, 0)
    except OSError:
        return "", 0


def stop(worker: Worker, pid: int, run_id: str) -> dict | None:
    """SIGTERM the run's process group, SIGKILL after a grace; the worker then reaps the rest."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for target in [pid, *marked_processes(run_id)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(target, sig) if target == pid else os.kill(target, sig)
        answer = worker.receive(GRACE_SECONDS)
        if answer is not None:
            return answer
    return worker.receive(10)


def run_pytest(workspace: Path, submission: str | None, *, worker: Worker, device: str = "cpu",
               hidden: bool = True, limits: Limits | None = None, collect_only: bool = False) -> Run:
    """Run the suite in ``workspace`` (made by ``prepare_workspace``) and watch it until it ends or is stopped."""
    limits = limits or Limits()
    run, run_id, token = Run(), secrets.token_hex(8), secrets.token_hex(16)
    private = Path(tempfile.mkdtemp(prefix="lora-grader-run-"))  # outside the workspace
    fifo, output = private / "report", private / "output"
    os.mkfifo(fifo, 0o600)
    listener = _Listener(run, fifo, token)
    started = time.monotonic()
    try:
        pid = worker.start_run({
            "cwd": str(workspace), "args": pytest_command(submission, device, hidden, limits, collect_only),
            "env": run_environment(workspace, run_id, token), "output": str(output), "report": str(fifo),
            "rlimits": rlimits(limits, device)})
        answer = None
        while answer is None:
            answer = worker.receive(POLL_SECONDS)
            if answer is not None:
                break
            if time.monotonic() - started > limits.timeout:
                run.stopped = "timed out"
            elif resident_mb(descendants(worker.process.pid)) > limits.memory_mb:
                run.stopped = "out of memory"
            if run.stopped:
                answer = stop(worker, pid, run_id)
        if not answer or "exited" not in answer:
            worker.close()  # it stopped answering: the next run gets a fresh one
        else:
            run.exit_code = answer["exited"]
    finally:
        listener.finish()
        run.output, run.output_dropped = kept_output(output, limits.output_kb * 1024)
        shutil.rmtree(private, ignore_errors=True)
    run.seconds = time.monotonic() - started
    return run
