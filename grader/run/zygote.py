"""The zygote: the process that starts a run's subjects, the only processes that run the submission's code.

The grader's test process is the *judge*: it runs pytest with the suite and decides every
verdict, and never imports, executes or unpickles anything of the submission's. Whenever
the judge needs a subject (at the first test, and again after one died, hung or broke
the protocol), it asks the zygote over a socket and hands it one end of a fresh socket
pair. The zygote was forked from the run's process before the judge imported any test or
read its secrets (``run_request.JudgeSecrets``: the seed, the report channel), so a subject,
forked from the zygote, holds none of them in its memory either; it joins the
run's control groups (the submission's limits bound the subjects, not the judge) and a
mount namespace whose tmpfs caps their home (``disk.py``), starts
a session of its own, contains itself (``containment.py``) with the submission's module
and its own read-only copies of the models and data as all it may read, says which layers
hold, and only then imports the submission and serves (``tests/judging/subject.py``, with the
suite's own builtins, ``tests/assignment/subject_builtins.py``).

The zygote runs no code of the submission's and answers only its own judge: ``spawn``
(with a descriptor) starts a subject and answers its pid; ``kill PID`` ends a subject it
started, with its process group (a judge cannot signal a subject: Landlock's scope keeps
signals inside its own domain).
"""

import contextlib
import os
import signal
import socket
import sys
import tempfile
import traceback
from pathlib import Path

from grader.run.run_request import RunRequest
from grader.sandbox import disk
from grader.sandbox.containment import contain
from grader.sandbox.processes import die_with_parent


def fork(request: RunRequest) -> socket.socket:
    """Fork the zygote; the judge's end of its control socket."""
    judge_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    judge = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            die_with_parent(judge)
            judge_end.close()
            _serve(zygote_end, request)
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
            code = 98
        os._exit(code)
    zygote_end.close()
    return judge_end


def _serve(control: socket.socket, request: RunRequest) -> None:
    for procs in request["cgroups"]:  # the submission's limits: subjects only
        Path(procs).write_text("0")
    # the subjects' home capped (``disk.py``), once for the run: every subject, and all they start, share it
    capped = "" if "disk" in request["disabled"] else disk.cap_home(request["subject"]["home"], **request["disk"])
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # subjects are reaped by the kernel
    started: set[int] = set()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:
            return  # the judge is gone
        if message == b"spawn" and len(fds) == 1:
            zygote = os.getpid()
            pid = os.fork()
            if pid == 0:
                die_with_parent(zygote)
                control.close()
                _run_subject(fds[0], request, capped)
            os.close(fds[0])
            started.add(pid)
            control.send(b"pid %d" % pid)
            continue
        for fd in fds:
            os.close(fd)
        if message.startswith(b"kill ") and message[5:].isdigit() and int(message[5:]) in started:
            pid = int(message[5:])
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)
            started.discard(pid)
        control.send(b"done")


def _run_subject(fd: int, request: RunRequest, capped: str) -> None:
    """In a forked subject: contain itself, say how (``capped``: the disk cap its zygote mounted), import the
    submission, serve. Never returns."""
    code = 0
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for name in os.listdir("/proc/self/fd"):
            if int(name) > 2 and int(name) != fd:
                with contextlib.suppress(OSError):
                    os.close(int(name))
        from tests.assignment import subject_builtins  # imported before the zygote was forked
        from tests.judging import subject, submission
        from tests.judging.protocol import Answer, pack

        place = request["subject"]
        home = place["home"]
        os.chdir(home)
        os.environ.update({"HOME": home, "TMPDIR": home, "HF_HOME": os.path.join(home, "huggingface")})
        tempfile.tempdir = None
        sys.path[:] = [home] + [p for p in sys.path if p and p not in (request["cwd"], request["hide"])]
        channel = socket.socket(fileno=fd)
        layers = contain(home, request["device"], request["rlimits"], request["hide"],
                         frozenset(request["disabled"]), readable=place["readable"])
        layers["disk"] = capped
        channel.sendall(pack({"seq": 0, "answer": Answer.CONTAINED.value, "value": layers}, {}))
        loaded = submission.load_submission(Path(place["submission"]))
        server = subject.Server(loaded, Path(place["models"]), request["device"], subject_builtins.BUILTINS)
        subject.serve(channel, server)
    except BaseException:  # anything at all: the subject must not fall back into the zygote's loop
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        code = 97
    os._exit(code)
