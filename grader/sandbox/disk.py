"""A cap on what one submission writes, in bytes and in files: by the kernel where it can, else watched.

rlimits cap one file (``RLIMIT_FSIZE``), never the total, and nothing in them caps the
number of files: a submission writing file after file fills the disk that every other
submission's workspace, the grader's results and the machine's other users share.

**Kernel cap** (``cap_home``, in the zygote before it starts a subject): a mount namespace of
the run's own with a tmpfs on the subjects' home, ``size=`` and ``nr_inodes=`` set from
``--disk`` and ``--disk-files``. A write past the cap fails with ENOSPC; tmpfs pages are
charged to the writer's memory control group, so they count towards ``--memory`` too; the
file system disappears with the run's last process, so nothing it wrote is left to clean
up. As root the namespace needs no more; as another user it is made inside a user
namespace that maps only that user (where the machine allows unprivileged ones). Chosen
over a loop-mounted image (needs root and a file per run), project quotas (need the file
system's support and root) and an overlay (no size limit of its own).

**Watch** (``Usage.of``, from the grader every poll): through ``/proc/PID/root`` of any of
the run's processes the grader reads the tmpfs's own counts (``statvfs``); where no tmpfs is
mounted (no namespace allowed, or the layer switched off in a test), it walks the home
folder (allocated blocks, each inode once, links not followed) and the run is stopped once
past the cap. What that weaker mechanism lets through: whatever is written between two
polls (0.1 s), files deleted while still open, which no walk sees, and, for a grader that
is not root, what lies in a folder the submission made unreadable.
"""

import contextlib
import ctypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000

LIBC = ctypes.CDLL(None, use_errno=True)


def _own_mount_namespace() -> str:
    """A mount namespace of this process's own, mounts not shared back; as another user than root, inside a
    user namespace that maps only its own uid and gid. Must run while the process has one thread."""
    if LIBC.unshare(CLONE_NEWNS) == 0:
        how = "mount namespace"
    else:
        uid, gid = os.getuid(), os.getgid()
        if LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            return ""
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        except OSError:
            return ""
        how = "user + mount namespace"
    if LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return ""
    return how


def cap_home(home: str, megabytes: int, files: int) -> str:
    """Mount a tmpfs of ``megabytes`` and ``files`` on ``home``, in a mount namespace of this process's own
    (its children share it). What was applied, or '' where the machine allows no namespace or mount."""
    how = _own_mount_namespace()
    if not how:
        return ""
    options = f"size={megabytes}m,nr_inodes={files},mode=0700".encode()
    if LIBC.mount(b"tmpfs", home.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
        return ""
    return f"tmpfs {megabytes} MB, {files:,} files ({how})"


@dataclass
class Usage:
    """What a run's home holds: megabytes allocated and files (inodes, the home's own included), and whether a
    tmpfs of the run's own holds it (the kernel refuses what is past its cap) or a walk measured it."""

    megabytes: float = 0.0
    files: int = 0
    kernel: bool = False

    @classmethod
    def of(cls, home: str, pids: list[int]) -> "Usage":
        """The run's tmpfs, seen through the first of ``pids`` whose root shows one on ``home``; else a walk of
        ``home`` as the grader sees it."""
        try:
            own = os.stat(home).st_dev
        except OSError:
            return cls()
        for pid in pids:
            seen = f"/proc/{pid}/root{home}"
            with contextlib.suppress(OSError):  # gone, or not ours to look into
                if os.stat(seen).st_dev != own:
                    counts = os.statvfs(seen)
                    return cls((counts.f_blocks - counts.f_bfree) * counts.f_frsize / 2**20,
                               counts.f_files - counts.f_ffree, kernel=True)
        return cls.walked(home)

    @classmethod
    def walked(cls, home: str) -> "Usage":
        seen, blocks = set(), 0
        stack = [home]
        while stack:
            with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        if info.st_ino not in seen:
                            seen.add(info.st_ino)
                            blocks += info.st_blocks
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
        return cls(blocks * 512 / 2**20, len(seen) + 1)

    def over(self, megabytes: int, files: int) -> str:
        """The option whose cap stops the run now ('' if none): a full tmpfs (the kernel refuses the next write),
        or, measured by a walk, a home past the cap."""
        if self.megabytes > megabytes or (self.kernel and self.megabytes >= megabytes - 0.5):
            return f"--disk {megabytes} MB"
        if self.files > files or (self.kernel and self.files >= files):
            return f"--disk-files {files}"
        return ""


# What a batch writes, measured generously: a workspace is about 1.2 MB (the suite, two copies of the tiny models
# and data), a worker's home holds nothing; a submission's results (results.json, feedback.md, a platform's file)
# stay under 1 MB, their caps included; the class report and grades.csv are a few MB for a large class.
SPARE_MB, PER_JOB_MB, PER_SUBMISSION_MB = 64, 16, 1


def room_problems(out: Path, temporary: Path, submissions: int, jobs: int, polled_disk_mb: int) -> list[str]:
    """Where a batch would run out of room before it ends: one sentence per folder short of it. ``polled_disk_mb``:
    what each job's submission may write in the temporary folder (0 where a tmpfs of its own holds it)."""
    results, workspaces = PER_SUBMISSION_MB * submissions, jobs * (PER_JOB_MB + polled_disk_mb)
    if _same_file_system(out, temporary):
        needs = {out: SPARE_MB + results + workspaces}
    else:
        needs = {out: SPARE_MB + results, temporary: SPARE_MB + workspaces}
    problems = []
    for folder, need in needs.items():
        free = shutil.disk_usage(_existing(folder)).free / 2**20
        if free < need:
            problems.append(f"{folder} has {free:,.0f} MB free and this batch needs about {need:,} MB there")
    return problems


def _existing(folder: Path) -> Path:
    """``folder``, or its nearest parent that exists (``--out`` is created later)."""
    folder = folder.absolute()
    while not folder.exists():
        folder = folder.parent
    return folder


def _same_file_system(one: Path, other: Path) -> bool:
    return os.stat(_existing(one)).st_dev == os.stat(_existing(other)).st_dev
