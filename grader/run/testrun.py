"""Run the assignment suite on one submission, judge and subjects, and watch it until it ends.

The judge is forked by a warm ``grader.run.warm_worker`` (torch and transformers already
imported) and runs ``pytest`` in a fresh private workspace holding the grader's own
copies of the tests, the tiny models and the data, with a scrubbed, offline environment;
the submission runs only in its subjects (``zygote.py``), which see the workspace's
``subject`` folder: the module, their own read-only copies of the models and data, a
home. The judge reports each test over a FIFO (``child_plugin.py``); what it never
reports counts as not passed. Limits:

- a per-test timeout (pytest-timeout, in the judge: a subject past it is replaced);
- for the whole submission, enforced from here over its subjects (a control group where
  the machine has one, ``cgroups.py``, else the worker's descendants, judge included,
  ``processes.py``): wall-clock time, CPU time and memory, and the number of tasks;
- on what the subjects write (bytes and files), a tmpfs of the run's own, watched from here
  (``disk.py``);
- per process, by the kernel (rlimits): CPU time, open files, file size, core dumps and,
  on the CPU, the address space; a cap on the output kept.

On expiry the whole tree is killed. Whatever the submission started, detached daemons
included, stays in its control group and ends up a child of the worker (a child
subreaper), which kills it before the next run.
"""

import json
import os
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import layout
from grader.assignments.pack import SPEC_IN_SUITE, Pack
from grader.grading.outcome import Stop
from grader.run.listener import CollectedTest, Loaded, ReportListener, TestReport
from grader.run.run_request import Answer, DiskCap, JudgeSecrets, RunRequest, SubjectPlace
from grader.run.worker_client import Worker, WorkerError
from grader.sandbox import cgroups, disk, processes
from grader.sandbox.cgroup2 import UnifiedGroup
from grader.sandbox.cgroups import RunGroup, run_name
from grader.sandbox.containment import disabled_layers

MARKER = "LORA_GRADER_RUN"
PLUGIN_MODULE = "_lora_grader_report"
GRACE_SECONDS = 1.0
POLL_SECONDS = 0.1
MEMORY_HEADROOM_MB = 256  # the kernel's cap sits this far above the limit the grader enforces


@dataclass
class Limits:
    test_timeout: float = 60.0  # seconds per test
    timeout: float = 600.0  # seconds for the whole submission, wall clock
    cpu_seconds: float = 600.0  # CPU time of all the submission's processes together
    memory_mb: int = 4096  # memory of all the submission's processes
    tasks: int = 256  # processes and threads at once
    open_files: int = 1024  # per process
    output_kb: int = 64  # output of the child that is kept for the instructor
    file_mb: int = 64  # largest file the child may write
    disk_mb: int = 512  # what the submission's processes may hold on disk, all files together
    disk_files: int = 10_000  # files and folders they may create


@dataclass
class Run:
    """What happened to one submission's test process."""

    reports: dict[str, TestReport] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)  # test ids, in the order they started
    collected: list[CollectedTest] = field(default_factory=list)
    loaded: Loaded = field(default_factory=Loaded)  # what importing the submission gave
    containment: dict[str, str] | None = None  # each layer's state, as the test process applied it
    tree_limits: str = ""  # how the whole tree was limited: "cgroup" (version 1), "cgroup2" or "polled"
    tree_polled: list[str] = field(default_factory=list)  # limits of a version 2 group the grader polled instead
    stopped: Stop | None = None  # the limit the grader stopped it for
    limit: str = ""  # the limit that stopped it, as the option that sets it: "--memory 300 MB"
    peak_memory_mb: float | None = None  # the most its control group held, where the kernel counted it
    peak_disk_mb: float = 0.0  # the most its home held on disk, as the grader saw it
    peak_disk_files: int = 0  # and the most files (the home folder itself included)
    worker_lost: bool = False  # the worker died or stopped answering during the run
    exit_code: int | None = None
    output: str = ""
    output_dropped: int = 0  # bytes of output beyond the cap
    seconds: float = 0.0


SUBJECT = "subject"  # the folder of a workspace that the submission's processes see: never the tests


def prepare_workspace(workspace: Path, pack: Pack) -> None:
    """The grader's copies of the pack's suite and spec (``tests/assignment.toml``: the conventions the suite
    reads), the models and data, and the report plugin, in ``workspace``; in its ``subject`` folder, the
    subjects' own copies of the models and data, and their home."""
    (workspace / SUBJECT / "home").mkdir(parents=True)
    layout.copy_models_and_data(workspace / SUBJECT)
    tests = workspace / "tests"
    shutil.copytree(pack.suite, tests / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    layout.copy_suite_root(tests)
    shutil.copy(pack.spec_file, tests / SPEC_IN_SUITE)
    layout.copy_models_and_data(workspace)
    shutil.copy(Path(__file__).with_name("child_plugin.py"), workspace / f"{PLUGIN_MODULE}.py")
    (workspace / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (workspace / "tmp").mkdir()


def subject_place(workspace: Path, submission: str | None) -> SubjectPlace:
    """Where a subject lives (its home, read and written) and what else it may read: the module, its models and
    data; nothing of the judge's."""
    folder = workspace / SUBJECT
    module = str(workspace / submission) if submission else str(folder / "no submission")
    readable = [module, str(folder / "tiny_models"), str(folder / "data")]
    return SubjectPlace(home=str(folder / "home"), models=str(folder / "tiny_models"), submission=module,
                        readable=readable)


def run_environment(workspace: Path, run_id: str) -> dict[str, str]:
    """What a run sets on top of the worker's environment: its own home, temp and marker."""
    return {
        "HOME": str(workspace),
        "TMPDIR": str(workspace / "tmp"),
        "HF_HOME": str(workspace / "tmp" / "huggingface"),
        MARKER: run_id,
    }


def write_private(path: Path, text: str) -> None:
    """``text`` in a new file that only this user may read."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as f:
        f.write(text)


def pytest_command(submission: str | None, device: str, hidden: bool, limits: Limits, collect_only=False,
                   seed: int = 0) -> list[str]:
    """The arguments of ``pytest.main`` in the test process.

    pytest's logging plugin is off: it would only capture the judge's own log records (the
    submission logs in its subjects), and setting up and taking down its handlers around
    every phase of every test was a tenth of the judge's time in a run whose tests fail fast.
    """
    args = ["tests/assignment", "-q", "--no-header", "-p", "no:cacheprovider", "-p", "no:logging",
            "-p", "pytest_timeout", "-p", PLUGIN_MODULE, "-o", "addopts=", "--rootdir", ".",
            "--timeout", str(limits.test_timeout), "--device", device, "--seed", str(seed)]
    if not hidden:
        args += ["-m", "not hidden"]
    if submission:
        args += ["--submission", submission]
    if collect_only:
        args.append("--collect-only")
    return args


def rlimits(limits: Limits, device: str) -> dict[str, tuple[int, int]]:
    """Kernel-enforced limits per process, (soft, hard). CPU: SIGXCPU at the soft limit, SIGKILL at the
    hard one. Address space on CPU only (an honest run maps about 1.1 GB for 0.4 GB resident; CUDA maps
    far more, so there only the tree's memory limit applies)."""
    cpu = max(int(limits.cpu_seconds), 1)
    found = {"RLIMIT_CPU": (cpu, cpu + 2), "RLIMIT_NOFILE": (limits.open_files, limits.open_files),
             "RLIMIT_FSIZE": (limits.file_mb * 2**20,) * 2, "RLIMIT_CORE": (0, 0)}
    if device == "cpu":
        found["RLIMIT_AS"] = ((limits.memory_mb + 2048) * 2**20,) * 2
    return found


def kept_output(path: Path, cap: int) -> tuple[str, int]:
    """The head of the child's output file: opened without following a link, only if it is a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "", 0
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "", 0
        kept = f.read(cap)
    return kept.decode("utf-8", errors="replace"), max(info.st_size - cap, 0)


def limit_option(reason: Stop, limits: Limits) -> str:
    """The option and value of the limit behind ``reason``, for staff to tell a hog from a tight setting."""
    return {Stop.TIMED_OUT: f"--timeout {limits.timeout:g} s", Stop.CPU_TIME: f"--cpu-time {limits.cpu_seconds:g} s",
            Stop.OUT_OF_MEMORY: f"--memory {limits.memory_mb} MB"}[reason]


class TreeWatch:
    """The run's whole process tree: measured and ended through its control group, else through the
    worker's descendants (``processes.py``); and its home's disk use (``disk.py``), kept in ``run``."""

    def __init__(self, worker: Worker, group: RunGroup | UnifiedGroup | None, run: Run, home: str):
        self.worker, self.group, self.run, self.home = worker, group, run, home

    def over(self, limits: Limits, started: float) -> tuple[Stop, str] | None:
        """Why and by which option the run must stop now, if it must."""
        if time.monotonic() - started > limits.timeout:
            return Stop.TIMED_OUT, limit_option(Stop.TIMED_OUT, limits)
        if self.group is not None:
            pids = self.group.pids()
            cpu, memory = self.group.cpu_seconds(), self.group.memory_mb()
        else:
            tree = processes.descendants(self.worker.process.pid)
            pids = [process.pid for process in tree]
            cpu, memory = processes.cpu_seconds(tree), processes.resident_mb(tree)
        if memory is None:  # a version 2 group without the memory controller
            memory = processes.resident_mb(processes.descendants(self.worker.process.pid))
        if cpu > limits.cpu_seconds:
            return Stop.CPU_TIME, limit_option(Stop.CPU_TIME, limits)
        if memory > limits.memory_mb:
            return Stop.OUT_OF_MEMORY, limit_option(Stop.OUT_OF_MEMORY, limits)
        used = disk.Usage.of(self.home, pids)
        self.run.peak_disk_mb = round(max(self.run.peak_disk_mb, used.megabytes), 1)
        self.run.peak_disk_files = max(self.run.peak_disk_files, used.files)
        if full := used.over(limits.disk_mb, limits.disk_files):
            return Stop.DISK_FULL, full
        return None

    def kill(self) -> None:
        if self.group is not None:
            self.group.kill()
        if self.worker.alive:
            processes.kill([p.pid for p in processes.descendants(self.worker.process.pid)])


def stop(worker: Worker, tree: TreeWatch) -> Answer | None:
    """End the run's whole tree; the worker then reaps it and says the run is over."""
    tree.kill()
    answer = worker.receive(GRACE_SECONDS)
    if answer is None:
        tree.kill()
        answer = worker.receive(10)
    return answer


def run_pytest(workspace: Path, submission: str | None, *, worker: Worker, device: str = "cpu",
               hidden: bool = True, limits: Limits | None = None, collect_only: bool = False, seed: int = 0) -> Run:
    """Run the suite in ``workspace`` (made by ``prepare_workspace``) and watch it until it ends or is stopped."""
    limits = limits or Limits()
    run, run_id, token = Run(), secrets.token_hex(8), secrets.token_hex(16)
    private = Path(tempfile.mkdtemp(prefix="lora-grader-run-"))  # outside the workspace
    fifo, output = private / "report", private / "output"
    os.mkfifo(fifo, 0o600)
    disabled = disabled_layers()
    group = None if "cgroup" in disabled else cgroups.create(
        run_name(run_id), tasks=limits.tasks, memory_mb=limits.memory_mb + MEMORY_HEADROOM_MB)
    run.tree_limits = {1: "cgroup", 2: "cgroup2"}[group.version] if group else "polled"
    run.tree_polled = list(group.missing) if group else []
    listener = ReportListener(run, fifo, token)
    place = subject_place(workspace, submission)
    started = time.monotonic()
    secrets_file = private / "secrets.json"
    write_private(secrets_file, json.dumps(JudgeSecrets(
        args=pytest_command(submission, device, hidden, limits, collect_only, seed), report=str(fifo), token=token)))
    request = RunRequest(
        cwd=str(workspace), secrets=str(secrets_file), env=run_environment(workspace, run_id), output=str(output),
        rlimits=rlimits(limits, device), device=device, disabled=sorted(disabled),
        cgroups=group.procs_files if group else [], subject=place,
        disk=DiskCap(megabytes=limits.disk_mb, files=limits.disk_files), hide=str(layout.ROOT))
    try:
        try:
            worker.start_run(request)
        except WorkerError:  # it died between two runs: this submission is not to blame, start afresh
            worker.start_run(request)
        tree = TreeWatch(worker, group, run, place["home"])
        answer = None
        while answer is None:
            answer = worker.receive(POLL_SECONDS)
            if answer is None and (reason := tree.over(limits, started)):
                run.stopped, run.limit = reason
                answer = stop(worker, tree)
                break
        if not answer or "exited" not in answer:
            run.worker_lost = True
            worker.close()  # dead or wedged: the next run gets a fresh one
        else:
            run.exit_code = answer["exited"]
        if group is not None and (peak := group.peak_memory_mb()) is not None:
            run.peak_memory_mb = round(peak, 1)
            if not run.stopped and run.peak_memory_mb >= limits.memory_mb:  # the kernel's cap, between two polls
                run.stopped, run.limit = Stop.OUT_OF_MEMORY, limit_option(Stop.OUT_OF_MEMORY, limits)
    except WorkerError:
        run.worker_lost = True
    finally:
        if group is not None:
            group.kill()
            group.remove()
        listener.finish()
        run.output, run.output_dropped = kept_output(output, limits.output_kb * 1024)
        shutil.rmtree(private, ignore_errors=True)
    run.seconds = time.monotonic() - started
    return run
