"""``python -m grader ARGS`` for the project's tests, forked from one warm process per test process.

Each grade command a test starts would import torch and transformers for its workers
(some 4.8 s on this project's machine, about 45 commands in a full run: a fifth of its CPU
time). Here a clean interpreter (no thread, started like a worker: ``PYTHONHASHSEED=0``,
offline, one thread for torch) imports them once (``warm_worker.warm_up``) and forks a child
per command; the child is the grader, in a session of its own, with the command's folder,
environment and output files, and since it is warm it forks its brood instead of starting
an interpreter (``worker_client.ForkedBrood``): its workers are its descendants as ever.

For commands run from this checkout only: a test that grades with a copy of the grader (the
arena), signals the grader, or times its start keeps a real ``subprocess``.
"""

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # the warm process: this checkout first, as a worker's launch puts it
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from grader.layout import ROOT
from grader.run.worker_client import next_line, worker_environment


def serve() -> None:
    """In the warm process: import once, then for each request on stdin fork a grader and report its pid and exit."""
    from grader.run import warm_worker

    answers = warm_worker.protocol_output()  # what the imports print goes to stderr, not into the answers
    warm_worker.warm_up()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _be_grader(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


def _be_grader(request: dict) -> None:
    """In the forked child: ``python -m grader ARGV`` in the request's folder and environment. Never returns."""
    from grader.run.warm_worker import close_inherited_descriptors

    code = 1
    try:
        os.setsid()
        close_inherited_descriptors()  # not the warm process's answers to the tests
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115  the child's streams for its life
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.argv = ["lora-grader", *request["argv"]]
        from grader import cli

        code = cli.entry_point()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class WarmGrader:
    """The warm process of this test process, started on first use; its answers read as whole lines off the raw pipe
    (``worker_client.next_line``)."""

    process: subprocess.Popen | None = None
    pending = b""

    @classmethod
    def start(cls) -> subprocess.Popen:
        if cls.process is None or cls.process.poll() is not None:
            home = Path(tempfile.mkdtemp(prefix="lora-grader-warm-"))
            env = {**os.environ, **worker_environment(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            # run as a script: the warm process must not hold this checkout's ``tests`` package, which every judge
            # forked from it would then import instead of its workspace's
            cls.process = subprocess.Popen([sys.executable, __file__], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, bufsize=0)
            cls.pending = b""
            atexit.register(cls.process.kill)
        return cls.process

    @classmethod
    def answer(cls, deadline: float) -> dict | None:
        """The warm process's next answer; None if none came by ``deadline``."""
        try:
            line, cls.pending = next_line(cls.process.stdout, cls.pending, deadline)
        except EOFError:
            raise RuntimeError("the warm grader process died") from None
        return None if line is None else json.loads(line)

    @classmethod
    def run(cls, argv: list[str], *, cwd: Path = ROOT, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """``python -m grader ARGV``: its exit status and output, as ``subprocess.run(..., capture_output=True,
        text=True)`` gives them."""
        server = cls.start()
        with tempfile.TemporaryDirectory(prefix="lora-grader-run-") as scratch:
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            request = {"argv": [str(a) for a in argv], "cwd": str(cwd), "env": dict(env or os.environ),
                       "stdout": str(out), "stderr": str(err)}
            server.stdin.write((json.dumps(request) + "\n").encode())
            deadline = time.monotonic() + timeout
            pid = cls.answer(deadline + 60)["pid"]
            done = cls.answer(deadline)
            if done is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                cls.answer(time.monotonic() + 60)  # its exit, now
                raise subprocess.TimeoutExpired(argv, timeout, out.read_text(), err.read_text())
            return subprocess.CompletedProcess(["lora-grader", *argv], done["returncode"], out.read_text(),
                                               err.read_text())


def grader(*argv, cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m grader ARGV`` from this checkout, forked warm (see the module's docstring)."""
    return WarmGrader.run(list(argv), cwd=cwd, env=env, timeout=timeout)


if __name__ == "__main__":
    serve()
