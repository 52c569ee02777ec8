"""A run's control group on the unified hierarchy (cgroup v2): most current distributions and GitHub's hosted
runners have no other.

The group is made beneath the grader's own (the ``0::`` line of ``/proc/self/cgroup``), which must be writable:
the grader's own group, or one delegated to it. The files every group has hold the tree and end it:
``cgroup.procs``; ``cgroup.kill`` (Linux 5.14), which SIGKILLs every process of the group at once, so nothing
forks in between (where it is missing: ``cgroup.freeze``, SIGKILL to each, thaw); ``cpu.stat``'s ``usage_usec``,
the CPU time of all of them. ``memory.max`` and ``pids.max`` exist only where the memory and pids controllers are
enabled in the parent's ``cgroup.subtree_control``: the grader asks for them, and where the kernel refuses (a
controller bound to a version 1 hierarchy, as on this project's machines, or a parent that holds processes of its
own) that limit alone falls back to the grader's polling, and ``missing`` says which.
"""

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import ClassVar

LIMITS = (("memory", "memory.max"), ("pids", "pids.max"))  # controller, and the file of its limit


def own_group(mounts: Path, own: Path = Path("/proc/self/cgroup")) -> Path | None:
    """This process's group on the unified hierarchy mounted at ``mounts``, where it can make groups in it."""
    if not (mounts / "cgroup.controllers").exists():
        return None
    try:
        lines = own.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, _, relative = line.split(":", 2)
        if hierarchy == "0":
            folder = mounts / relative.lstrip("/")
            return folder if (folder / "cgroup.procs").exists() and os.access(folder, os.W_OK) else None
    return None


class UnifiedGroup:
    """One run's group on the unified hierarchy."""

    version = 2
    live: ClassVar[set["UnifiedGroup"]] = set()  # made and not removed yet (``cgroups.thaw_all``)

    def __init__(self, folder: Path, missing: tuple[str, ...] = ()):
        self.folder = folder
        self.missing = missing  # the controllers whose limit the grader polls instead

    @classmethod
    def create(cls, parent: Path, name: str, *, tasks: int, memory_mb: int) -> "UnifiedGroup | None":
        folder = parent / name
        try:
            folder.mkdir()
        except OSError:
            return None
        with contextlib.suppress(OSError):  # refused where the controller is not on this hierarchy
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c, _ in LIMITS))
        missing = []
        for (controller, limit), value in zip(LIMITS, (memory_mb * 2**20, tasks), strict=True):
            try:
                (folder / limit).write_text(str(value))
            except OSError:
                missing.append(controller)
        group = cls(folder, tuple(missing))
        cls.live.add(group)
        return group

    def _read(self, name: str) -> str:
        return (self.folder / name).read_text()

    @property
    def procs_files(self) -> list[str]:
        return [str(self.folder / "cgroup.procs")]

    def cpu_seconds(self) -> float:
        usage = next(line for line in self._read("cpu.stat").splitlines() if line.startswith("usage_usec "))
        return int(usage.split()[1]) / 1e6

    def memory_mb(self) -> float | None:
        """None where the memory controller is missing: the grader then polls the tree's memory."""
        return None if "memory" in self.missing else int(self._read("memory.current")) / 2**20

    def peak_memory_mb(self) -> float | None:
        if "memory" in self.missing or not (self.folder / "memory.peak").exists():  # memory.peak: Linux 5.19
            return None
        return int(self._read("memory.peak")) / 2**20

    def pids(self) -> list[int]:
        return [int(pid) for pid in self._read("cgroup.procs").split()]

    def kill(self) -> None:
        """``cgroup.kill``, or where it is missing freeze, SIGKILL each, thaw; then wait until the group is empty."""
        try:
            if (self.folder / "cgroup.kill").exists():
                (self.folder / "cgroup.kill").write_text("1")
            else:
                with contextlib.suppress(OSError):
                    (self.folder / "cgroup.freeze").write_text("1")
                for pid in self.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            for _ in range(50):
                if not self.pids():
                    break
                time.sleep(0.02)
        finally:
            self.thaw()

    def thaw(self) -> None:
        with contextlib.suppress(OSError):
            (self.folder / "cgroup.freeze").write_text("0")

    def remove(self) -> None:
        """Remove the group once it is empty (a group holding a process cannot be removed)."""
        UnifiedGroup.live.discard(self)
        for _ in range(50):
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)
