"""The grader's side of its warm workers (``grader.run.warm_worker``): start one, talk to it, replace it when it dies.

A worker that a submission managed to kill or wedge is closed and a fresh one is started
for the next submission, in a fresh home folder: nothing of the dead one is reused.
"""

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

from grader import layout
from grader.run.run_request import BROOD_VARIABLE, Answer, Hatchling, RunRequest
from grader.sandbox.processes import become_subreaper

START_SECONDS = 180
LAUNCH = f"import sys; sys.path.insert(0, {str(layout.ROOT)!r}); from grader.run.warm_worker import main; main()"


class WorkerError(RuntimeError):
    """A worker that could not be started, or that stopped answering."""


def worker_environment(home: Path, gpu: str | None = None) -> dict[str, str]:
    """Only what the tests need: offline, single-threaded, nothing of the grader's own environment.
    Libraries read some of it at import time, which happens once, in the worker. ``gpu``: the one
    GPU this worker sees (a ``CUDA_VISIBLE_DEVICES`` entry); without it, the grader's own GPUs."""
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
        # transformers loads weights on a pool of threads unless told not to: no thread may run in a worker when
        # it forks (warm_worker.load_tiny_models), and for models this small the pool costs more than it saves
        "HF_DEACTIVATE_ASYNC_LOAD": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    elif "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def next_line(stream, pending: bytes, deadline: float) -> tuple[bytes | None, bytes]:
    """The next whole line ``stream`` writes after ``pending`` (bytes read before), and what is left over; None for
    the line if none came by ``deadline`` (``time.monotonic``); EOFError once the writer has closed its end.

    Lines are split here, on the raw descriptor: a buffered reader could hold a second message
    ("exited" right after "started") where ``select`` cannot see it.
    """
    while b"\n" not in pending:
        ready, _, _ = select.select([stream], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            return None, pending
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            raise EOFError
        pending += chunk
    line, _, rest = pending.partition(b"\n")
    return line, rest


class Reaped:
    """A child this process forked or adopted, polled, killed and reaped as a ``subprocess.Popen`` is."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def _reap(self, options: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, options)
            except ChildProcessError:  # not ours to reap: gone, as far as the grader can tell
                pid, status = self.pid, 9
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.reaped()
        return self.returncode

    def reaped(self) -> None:
        """What to let go of once the child is gone."""

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        return self._reap(0)

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class Adopted(Reaped):
    """A worker forked by a brood (``warm_worker.brood``): the grader's child once the brood has exited, the grader
    being a subreaper."""

    def __init__(self, pid: int, stdin, stdout):
        super().__init__(pid)
        self.stdin, self.stdout = stdin, stdout

    def reaped(self) -> None:
        self.stdin.close()
        self.stdout.close()


class Worker:
    """One ``grader.run.warm_worker`` process; started on first use, started afresh after it died."""

    pids: ClassVar[set[int]] = set()  # every live worker, so that reaping orphans spares them
    # Held while a worker starts and while a stop kills workers, so that a worker is either
    # started before the stop (and killed by it) or refused: none starts unseen in between.
    spawning: ClassVar[threading.RLock] = threading.RLock()

    def __init__(self, gpu: str | None = None, stopping: threading.Event | None = None):
        self.gpu = gpu
        self.stopping = stopping  # once set, this worker is never started again
        self.process: subprocess.Popen | None = None
        self.home: Path | None = None
        self.pending = b""  # bytes read from the worker, not yet a whole line

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_started(self) -> None:
        if self.alive:
            return
        self.close()
        self.spawn([sys.executable, "-c", LAUNCH])
        self.ready_or_close()

    @property
    def refused(self) -> bool:
        """Whether the batch this worker serves is stopping (then it never starts again)."""
        return self.stopping is not None and self.stopping.is_set()

    def spawn(self, command: list[str]) -> None:
        with Worker.spawning:
            if self.refused:
                raise WorkerError("the batch is stopping: no worker starts")
            self.pending = b""
            self.home = Path(tempfile.mkdtemp(prefix="lora-grader-worker-"))
            self.process = subprocess.Popen(command, cwd=self.home, bufsize=0,
                                            env=worker_environment(self.home, self.gpu), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
            Worker.pids.add(self.process.pid)
            if self.refused:  # stopped from this thread while it started
                self.close()
                raise WorkerError("the batch is stopping: no worker starts")

    def ready_or_close(self) -> None:
        if self.receive(START_SECONDS) != {"ready": True}:
            self.close()
            raise WorkerError("a grading worker did not start: can it import torch, transformers and pytest?")

    def receive(self, timeout: float) -> Answer | None:
        """The worker's next message; None if none came within ``timeout``; ``{"gone": True}`` if it died."""
        try:
            line, self.pending = next_line(self.process.stdout, self.pending, time.monotonic() + timeout)
        except EOFError:
            return {"gone": True}
        if line is None:
            return None
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"gone": True}  # not the worker's protocol: treat it as lost

    def start_run(self, request: RunRequest) -> int:
        self.ensure_started()
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
        except OSError:
            self.close()
            raise WorkerError("a grading worker died before the run started") from None
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
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()
            self.process = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None


class ForkedBrood(Reaped):
    """A brood forked from this process, which has already imported what a worker needs (``warm_worker.WARM``): what
    ``python -c LAUNCH`` does with ``BROOD_VARIABLE`` set, less the imports. A grader is warm only where the project's
    tests fork their grade commands from one warm process (``tests/warm_grader.py``); the brood and its workers are
    the grader's descendants all the same. Read and reaped as ``start_together`` reads and reaps a ``Popen``."""

    def __init__(self, hatchlings: list[Hatchling], home: Path):
        from grader.run import warm_worker

        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                os.close(read)
                os.chdir(home)
                os.dup2(write, 1)
                os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
                os.environ.clear()
                os.environ.update(hatchlings[0]["env"])
                signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has them, not
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the batch's handlers of a stop
                warm_worker.brood(hatchlings)
            finally:
                os._exit(1)
        os.close(write)
        super().__init__(pid)
        self.stdout = read

    def communicate(self, timeout: float) -> tuple[bytes, None]:
        """Everything the brood writes (its workers' pids), until it closes its end; then its exit status."""
        deadline, data = time.monotonic() + timeout, b""
        try:
            while True:
                ready, _, _ = select.select([self.stdout], [], [], max(deadline - time.monotonic(), 0))
                if not ready:
                    raise subprocess.TimeoutExpired("brood", timeout)
                chunk = os.read(self.stdout, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self.stdout)
        self.wait()
        return data, None


def warm() -> bool:
    """Whether this process may fork a brood: it has imported what workers need and runs no other thread."""
    imported = sys.modules.get("grader.run.warm_worker")
    return bool(imported and imported.WARM) and threading.active_count() == 1


def start_together(workers: list[Worker]) -> None:
    """Start these workers with one import: a brood (``warm_worker.brood``) imports torch and transformers, forks
    one worker per ``Worker`` on the pipes made here, and exits. One worker is started as it always is, unless this
    process is warm (``ForkedBrood``); a worker that dies later is replaced by a fresh interpreter
    (``ensure_started``)."""
    if len(workers) < 2 and not warm():
        for worker in workers:
            worker.ensure_started()
        return
    become_subreaper()  # the brood's exit leaves its workers orphans: this process adopts them (``Adopted``)
    hatchlings: list[Hatchling] = []
    ours: list[tuple[int, int]] = []  # per worker: the ends the grader keeps (write requests, read answers)
    theirs: list[int] = []
    for worker in workers:
        worker.close()
        worker.pending, worker.home = b"", Path(tempfile.mkdtemp(prefix="lora-grader-worker-"))
        commands, answers = os.pipe(), os.pipe()
        ours.append((commands[1], answers[0]))
        theirs += [commands[0], answers[1]]
        hatchlings.append({"commands": commands[0], "answers": answers[1], "home": str(worker.home),
                           "env": worker_environment(worker.home, worker.gpu)})
    first = workers[0]
    try:
        with Worker.spawning:
            if first.refused:
                for fd in (fd for pair in ours for fd in pair):
                    os.close(fd)
                raise WorkerError("the batch is stopping: no worker starts")
            brood = ForkedBrood(hatchlings, first.home) if warm() else subprocess.Popen(
                [sys.executable, "-c", LAUNCH], cwd=first.home, pass_fds=theirs,
                env={**hatchlings[0]["env"], BROOD_VARIABLE: json.dumps(hatchlings)},
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
            for worker in workers:  # until they are forked, a stop kills the brood (``batch.interrupts_stop``)
                worker.process = brood
            Worker.pids.add(brood.pid)
    finally:
        for fd in theirs:
            os.close(fd)
    try:
        line, _ = brood.communicate(timeout=START_SECONDS)
        pids = json.loads(line) if brood.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        pids = None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(brood.pid, signal.SIGKILL)
        brood.wait()
        Worker.pids.discard(brood.pid)
    with Worker.spawning:
        for worker, (commands, answers), pid in zip(workers, ours, pids or [None] * len(workers), strict=True):
            worker.process = None
            if pid is None or worker.refused:
                os.close(commands)
                os.close(answers)
                if pid is not None:  # reaped with the batch's other orphans
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                continue
            # the worker's pipes, for its whole life: Adopted closes them once it is reaped
            worker.process = Adopted(pid, os.fdopen(commands, "wb", buffering=0),
                                     os.fdopen(answers, "rb", buffering=0))
            Worker.pids.add(pid)
    if any(worker.process is None for worker in workers):
        for worker in workers:
            worker.close()
        raise WorkerError("the batch is stopping: no worker starts" if first.refused
                          else "grading workers did not start: can they import torch, transformers and pytest?")
    for worker in workers:
        worker.ready_or_close()
