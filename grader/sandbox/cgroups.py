"""Limits over a test process's whole tree: a control group per run, where the machine offers one.

An rlimit binds one process, starts afresh in each child and, for the number of
processes, does not bind root at all. A control group binds the tree: every process the
submission starts, detached or not, stays in it, so the grader can read the tree's CPU
time and memory, cap its number of tasks (a fork bomb stops at ``pids.max``) and end it
whole (freeze, kill, thaw: nothing forks in between). Version 1 hierarchies (one
mount per controller, as on this project's machines) are used beneath the grader's own
group (``RunGroup``); where ``/sys/fs/cgroup`` is the unified hierarchy, a version 2 group
(``cgroup2.py``); elsewhere ``create`` returns None and the grader watches the process tree
itself (``processes.py``).
"""

import contextlib
import os
import re
import signal
import time
from pathlib import Path
from typing import ClassVar

import psutil

from grader.sandbox.cgroup2 import UnifiedGroup
from grader.sandbox.cgroup2 import own_group as own_unified_group

MOUNTS = Path("/sys/fs/cgroup")
CONTROLLERS = ("pids", "cpuacct", "memory", "freezer")
RUN_GROUP = re.compile(r"lora-grader-(?P<owner>\d+)-[0-9a-f]+")  # run_name's: the grader's pid, then the run's id


def own_groups() -> dict[str, Path]:
    """Each version 1 controller's folder for this process's own group, where it is mounted and writable."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, names, relative = line.split(":", 2)
        for name in names.split(","):
            folder = MOUNTS / name / relative.lstrip("/")
            if name in CONTROLLERS and (folder / "cgroup.procs").exists() and os.access(folder, os.W_OK):
                found[name] = folder
    return found


def run_name(run_id: str) -> str:
    """A run's group's name, which says which grader made it: ``sweep`` ends the groups of graders that are gone."""
    return f"lora-grader-{os.getpid()}-{run_id}"


def create(name: str, *, tasks: int, memory_mb: int) -> "RunGroup | UnifiedGroup | None":
    """A run's group: on the version 1 hierarchies where this process has all four controllers, else on the
    unified hierarchy where it may make groups, else None."""
    group = RunGroup.create(name, tasks=tasks, memory_mb=memory_mb)
    if group is None and (parent := own_unified_group(MOUNTS)) is not None:
        group = UnifiedGroup.create(parent, name, tasks=tasks, memory_mb=memory_mb)
    return group


class RunGroup:
    """One run's group in each controller of the version 1 hierarchies."""

    version = 1
    missing = ()  # every limit is the kernel's
    live: ClassVar[set["RunGroup"]] = set()  # every group this process made and has not removed (``thaw_all``)

    def __init__(self, folders: dict[str, Path]):
        self.folders = folders

    @classmethod
    def create(cls, name: str, *, tasks: int, memory_mb: int) -> "RunGroup | None":
        parents = own_groups()
        if set(parents) != set(CONTROLLERS):
            return None
        group = cls({})
        try:
            for controller, parent in parents.items():
                folder = parent / name
                folder.mkdir()
                group.folders[controller] = folder
            group._write("pids", "pids.max", tasks)
            group._write("memory", "memory.limit_in_bytes", memory_mb * 2**20)
        except OSError:
            group.remove()
            return None
        cls.live.add(group)
        return group

    def _read(self, controller: str, name: str) -> str:
        return (self.folders[controller] / name).read_text()

    def _write(self, controller: str, name: str, value) -> None:
        (self.folders[controller] / name).write_text(str(value))

    @property
    def procs_files(self) -> list[str]:
        """What the test process writes ``0`` to, to join the group before it contains itself."""
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

    def cpu_seconds(self) -> float:
        return int(self._read("cpuacct", "cpuacct.usage")) / 1e9

    def memory_mb(self) -> float:
        return int(self._read("memory", "memory.usage_in_bytes")) / 2**20

    def peak_memory_mb(self) -> float:
        return int(self._read("memory", "memory.max_usage_in_bytes")) / 2**20

    def pids(self) -> list[int]:
        return [int(pid) for pid in self._read("pids", "cgroup.procs").split()]

    def kill(self) -> None:
        """Freeze the group, SIGKILL everything in it, thaw: no process can fork in between.

        It thaws whatever happens, even when it found the group empty: a run can end before its
        zygote has joined the group, and a process that joins a frozen group stops there, a
        SIGKILL to it pending, and whoever waits for it (the grader, reaping orphans) waits for ever.
        """
        try:
            with contextlib.suppress(OSError):
                self._write("freezer", "freezer.state", "FROZEN")
                for _ in range(100):
                    if self._read("freezer", "freezer.state").strip() == "FROZEN":
                        break
                    time.sleep(0.01)
            for _ in range(50):
                pids = self.pids()
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.thaw()
                time.sleep(0.02)
        finally:
            self.thaw()

    def thaw(self) -> None:
        with contextlib.suppress(OSError):
            self._write("freezer", "freezer.state", "THAWED")

    def remove(self) -> None:
        """Remove the group's folders once it is empty (a folder holding a process cannot be removed)."""
        RunGroup.live.discard(self)
        for folder in self.folders.values():
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def thaw_all() -> None:
    """Thaw every group this process made: for a grader about to exit at once (a second Ctrl-C), whose ``kill``
    may have frozen a group and not thawed it yet. A frozen process never ends, not even for a pending SIGKILL,
    and nothing else would ever thaw it; thawed, the SIGKILLs already sent to it, or to the worker it dies with,
    take effect."""
    for group in [*RunGroup.live, *UnifiedGroup.live]:
        group.thaw()


UNLIMITED = 2**60  # a limit this high (v1 writes 9223372036854771712 for none) limits nothing


def container_memory_mb(mounts: Path = MOUNTS, own: Path = Path("/proc/self/cgroup")) -> int | None:
    """The tightest memory limit on this process: its own control group's or one above it (a container's, a
    Slurm job's), version 1 or 2, in MB; None where nothing limits it or nothing can be read."""
    try:
        lines = own.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, names, relative = line.split(":", 2)
        if "memory" in names.split(","):
            root, name = mounts / "memory", "memory.limit_in_bytes"
        elif names == "" and (mounts / "cgroup.controllers").exists():
            root, name = mounts, "memory.max"
        else:
            continue
        folder = root / relative.lstrip("/")
        for level in (folder, *folder.parents):  # up to the hierarchy's root: each level limits what is below
            with contextlib.suppress(OSError, ValueError):
                text = (level / name).read_text().strip()
                limits.append(UNLIMITED if text == "max" else int(text))
            if level == root:
                break
    tightest = min(limits, default=UNLIMITED)
    return None if tightest >= UNLIMITED else tightest // 2**20


def sweep() -> None:
    """End and remove the run groups of graders that are gone.

    A grader removes each run's group when the run ends, but one killed outright (SIGKILL, an
    out-of-memory kill, a scheduler's time limit) or told to exit at once (a second Ctrl-C)
    leaves its groups behind, maybe with a process of a submission still in one (a daemon
    that detached from its run). Nothing else would end that process or remove the groups,
    so the next grader does, before its own runs: those of the groups it finds beside its
    own whose grader (``run_name``) no longer runs. Only whole groups are ended; a group the
    kernel will not remove (a process in it that will not die) stays.
    """
    left: dict[str, dict[str, Path]] = {}
    for controller, parent in own_groups().items():
        for folder in parent.glob("lora-grader-*"):
            found = RUN_GROUP.fullmatch(folder.name)
            if found and not psutil.pid_exists(int(found["owner"])):
                left.setdefault(folder.name, {})[controller] = folder
    for folders in left.values():
        group = RunGroup(folders)
        if set(folders) == set(CONTROLLERS):
            with contextlib.suppress(OSError):  # another grader's sweep removed it first
                group.kill()
        group.remove()
    parent = own_unified_group(MOUNTS)
    for folder in parent.glob("lora-grader-*") if parent is not None else ():
        found = RUN_GROUP.fullmatch(folder.name)
        if found and not psutil.pid_exists(int(found["owner"])):
            with contextlib.suppress(OSError):
                UnifiedGroup(folder).kill()
            UnifiedGroup(folder).remove()
