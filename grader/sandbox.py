"""Run the assignment suite on one submission in a process of its own, within limits.

The child is ``python -m pytest`` in a fresh private workspace holding the
submission's module, the grader's own copies of the tests, the tiny models and the
data, with a scrubbed, offline environment. It reports each test over a pipe
(``child_plugin.py``); what it never reports counts as not passed. Limits:

- a per-test timeout (pytest-timeout, inside the child);
- a wall-clock limit for the whole submission, a memory limit (the resident memory
  of all its processes) and a cap on the output kept, all enforced from here;
- on expiry the child's process group gets SIGTERM, then SIGKILL after a short
  grace, and so does every process carrying this run's marker in its environment,
  including ones that detached into a session of their own. ``become_subreaper``
  makes such orphans children of the grader, so that they can be reaped.
"""

import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import layout

MARKER = "LORA_GRADER_RUN"
PLUGIN_MODULE = "_lora_grader_report"
GRACE_SECONDS = 1.0
POLL_SECONDS = 0.1
PR_SET_CHILD_SUBREAPER = 36


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
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the process-group kill still applies


def prepare_workspace(workspace: Path) -> None:
    """The grader's copies of the tests, models and data, and the report plugin, in ``workspace``."""
    tests = workspace / "tests"
    shutil.copytree(layout.SUITE, tests / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(layout.TESTS / name, tests / name)
    for model in layout.TINY_MODELS.iterdir():
        if model.is_dir() and not model.name.startswith("__"):
            shutil.copytree(model, workspace / "tiny_models" / model.name)
    (workspace / "data").mkdir()
    shutil.copy(layout.DATA / "reviews.csv", workspace / "data")
    shutil.copy(Path(__file__).with_name("child_plugin.py"), workspace / f"{PLUGIN_MODULE}.py")
    (workspace / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (workspace / "tmp").mkdir()


def child_environment(workspace: Path, run_id: str, report_fd: int, token: str) -> dict[str, str]:
    """Only what the tests need: offline, single-threaded, nothing of the grader's own environment."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workspace),
        "TMPDIR": str(workspace / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(workspace / "tmp" / "huggingface"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        MARKER: run_id,
        "LORA_GRADER_REPORT_FD": str(report_fd),
        "LORA_GRADER_TOKEN": token,
    }
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def pytest_command(submission: str | None, device: str, hidden: bool, limits: Limits, collect_only=False) -> list[str]:
    command = [sys.executable, "-m", "pytest", "tests/assignment", "-q", "--no-header", "-p", "no:cacheprovider",
               "-p", "pytest_timeout", "-p", PLUGIN_MODULE, "-o", "addopts=", "--rootdir", ".",
               "--timeout", str(limits.test_timeout), "--device", device]
    if not hidden:
        command += ["-m", "not hidden"]
    if submission:
        command += ["--submission", submission]
    if collect_only:
        command.append("--collect-only")
    return command


def set_rlimits(pid: int, limits: Limits, device: str) -> None:
    """Kernel-enforced backstops: file size, and on CPU the address space (an honest run maps about
    1.1 GB for 0.4 GB resident; CUDA maps far more, so there only the watchdog applies)."""
    try:
        import resource
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limits.file_mb * 2**20,) * 2)
        if device == "cpu":
            resource.prlimit(pid, resource.RLIMIT_AS, ((limits.memory_mb + 2048) * 2**20,) * 2)
    except (ImportError, OSError, ValueError):
        pass


def marked_processes(run_id: str) -> list[int]:
    """Processes whose environment carries this run's marker, wherever they went."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
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


def kill_everything(child: subprocess.Popen, run_id: str) -> None:
    """SIGTERM the process group, SIGKILL after a grace, then SIGKILL every marked process and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    for _ in range(3):  # a process may fork while we kill
        pids = [pid for pid in marked_processes(run_id) if pid != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        for pid in pids:
            try:
                os.waitpid(pid, os.WNOHANG)  # orphans that became our children
            except ChildProcessError:
                pass
    child.wait()


def reap_orphans() -> list[int]:
    """Kill the processes that were orphaned into this (subreaper) process: detached daemons whose
    environment no longer carries a run's marker. Call it when no submission is being graded."""
    me, killed = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
                os.waitpid(int(entry), 0)
                killed.append(int(entry))
            except (ProcessLookupError, ChildProcessError):
                pass
    return killed


class _Listener:
    """Reads the child's report pipe and its output on threads of their own."""

    def __init__(self, run: Run, report_fd: int, output, token: str, output_cap: int):
        self.run, self.token, self.output_cap = run, token, output_cap
        self.lock = threading.Lock()
        self.kept = bytearray()
        self.threads = [threading.Thread(target=self._read_reports, args=(report_fd,), daemon=True),
                        threading.Thread(target=self._read_output, args=(output,), daemon=True)]
        for thread in self.threads:
            thread.start()

    def _read_reports(self, fd: int) -> None:
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as pipe:
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

    def _read_output(self, stream) -> None:
        while chunk := stream.read1(65536):
            room = self.output_cap - len(self.kept)
            self.kept += chunk[:max(room, 0)]
            self.run.output_dropped += max(len(chunk) - max(room, 0), 0)

    def finish(self) -> None:
        """Called once the child is gone; a detached daemon may still hold the pipes open, so don't wait long."""
        for thread in self.threads:
            thread.join(timeout=1)
        self.run.output = self.kept.decode("utf-8", errors="replace")


def run_pytest(workspace: Path, submission: str | None, *, device: str = "cpu", hidden: bool = True,
               limits: Limits = Limits(), collect_only: bool = False) -> Run:
    """Run the suite in ``workspace`` (made by ``prepare_workspace``) and watch it until it ends or is stopped."""
    run, run_id, token = Run(), secrets.token_hex(8), secrets.token_hex(16)
    report_read, report_write = os.pipe()
    started = time.monotonic()
    child = subprocess.Popen(
        pytest_command(submission, device, hidden, limits, collect_only), cwd=workspace,
        env=child_environment(workspace, run_id, report_write, token), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(report_write,), start_new_session=True)
    os.close(report_write)
    set_rlimits(child.pid, limits, device)
    listener = _Listener(run, report_read, child.stdout, token, limits.output_kb * 1024)
    try:
        while child.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > limits.timeout:
                run.stopped = "timed out"
            elif resident_mb(marked_processes(run_id)) > limits.memory_mb:
                run.stopped = "out of memory"
            if run.stopped:
                break
            time.sleep(POLL_SECONDS)
    finally:
        kill_everything(child, run_id)  # also after a normal exit: nothing the submission started survives
        listener.finish()
    run.exit_code = child.returncode
    run.seconds = time.monotonic() - started
    return run
