"""The process tree of a worker and its runs, read with psutil: who is below whom, their memory and CPU time.

Where no control group holds a run (``cgroups.py``), this is how the grader measures the
run's tree and ends it. psutil reads the same ``/proc`` files the grader read by hand
before, at the same cost (one pass over ``/proc/*/stat`` per poll).
"""

import contextlib
import ctypes
import os
import signal

import psutil

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1


def become_subreaper() -> None:
    """Make orphaned descendants (daemons a submission detaches) children of this process (Linux)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the process-group kill still applies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def die_with_parent(parent: int) -> None:
    """In a child just forked from ``parent``: be killed when it ends (Linux), and end now if it already has.

    A stop kills the tree it can see; a process forked while it looked (a subject the zygote started in that
    instant) would otherwise outlive it.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def descendants(pid: int) -> list[psutil.Process]:
    """Every process below ``pid``; none if it is gone."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def children(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


def resident_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total / 2**20


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system time of these processes and of the children they have reaped."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def kill_children(of: int, spare: set[int] = frozenset()) -> int:
    """SIGKILL and reap every child of ``of`` (this process) but ``spare``, until none is left; how many."""
    killed = 0
    for _ in range(50):
        pids = [pid for pid in children(of) if pid not in spare]
        if not pids:
            break
        kill(pids)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        killed += len(pids)
    return killed
