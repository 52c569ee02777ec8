"""The disk cap's parts (``grader/sandbox/disk.py``): the tmpfs a run gets, what the grader reads of it, the walk that
stands in where no tmpfs can be mounted, and the room a batch needs before it starts. The cap on real
submissions, on and off, is in test_adversarial.py and test_containment.py."""

import os
import shutil
from collections import namedtuple

import pytest

from grader.sandbox import disk


def in_child(work) -> int:
    """Run ``work`` in a forked child (the mount namespace and what it holds die with it); its exit status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = work()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_the_tmpfs_refuses_what_is_past_its_bytes_and_files_and_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()

    def fill() -> int:
        assert disk.cap_home(str(home), 16, 100).startswith("tmpfs 16 MB, 100 files")
        written = 0
        try:
            with open(home / "big", "wb") as f:
                for _ in range(32):
                    f.write(bytes(2**20))
                    f.flush()
                    written += 1
        except OSError:
            pass
        (home / "big").unlink()
        made = 0
        try:
            for number in range(200):
                (home / f"f{number}").touch()
                made += 1
        except OSError:
            pass
        return 10 * (written == 16) + (made == 99)  # the 100th inode is the home itself

    assert in_child(fill) == 11
    assert list(home.iterdir()) == []  # the tmpfs was never on the grader's side


def test_the_grader_reads_a_runs_tmpfs_through_its_processes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    ready, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        disk.cap_home(str(home), 16, 100)
        (home / "three").write_bytes(bytes(3 * 2**20))
        os.write(ready[1], b"1")
        os.read(done[0], 1)
        os._exit(0)
    try:
        os.read(ready[0], 1)
        seen = disk.Usage.of(str(home), [os.getpid(), pid])  # the first has no tmpfs there: it is skipped
        assert (seen.megabytes, seen.files, seen.kernel) == (3.0, 2, True)
        assert seen.over(3, 100) == "--disk 3 MB" and seen.over(16, 2) == "--disk-files 2"  # full: refusing
        assert seen.over(16, 100) == ""
        assert disk.Usage.of(str(home), [os.getpid()]) == disk.Usage(0.0, 1)  # the walk of the empty folder
    finally:
        os.write(done[1], b"1")
        os.waitpid(pid, 0)


def test_the_walk_counts_blocks_each_inode_once_and_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(os.urandom(8 * 2**20))
    home = tmp_path / "home"
    (home / "sub").mkdir(parents=True)
    (home / "sub" / "two").write_bytes(os.urandom(2 * 2**20))
    os.link(home / "sub" / "two", home / "again")  # the same two megabytes
    (home / "link").symlink_to(outside)
    (home / "sparse").write_bytes(b"")
    os.truncate(home / "sparse", 50 * 2**20)  # 50 MB long, nothing allocated
    seen = disk.Usage.walked(str(home))
    assert 2.0 <= seen.megabytes < 2.2
    assert seen.files == 5  # home, sub, two (once), link, sparse
    # a walk stops a run past the cap, not at it: nothing refused the writes up to it
    assert seen.over(3, 5) == "" and seen.over(2, 5) == "--disk 2 MB" and seen.over(16, 4) == "--disk-files 4"


Free = namedtuple("Free", "total used free")


def test_a_batch_without_room_is_refused_with_what_it_needs(tmp_path, monkeypatch):
    out, temporary = tmp_path / "out" / "not yet", tmp_path
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: Free(0, 0, 100 * 2**20))
    # one file system: 64 to spare, 10 submissions' results, 2 jobs' workspaces of 16
    assert disk.room_problems(out, temporary, 10, 2, 0) == [
        f"{out} has 100 MB free and this batch needs about 106 MB there"]
    assert disk.room_problems(out, temporary, 2, 1, 0) == []
    # where only the grader's watch caps a run, each job may also fill --disk in the temporary folder
    assert disk.room_problems(out, temporary, 2, 1, 40) != []


@pytest.mark.parametrize("place", ["temporary", "out"])
def test_each_folder_is_checked_on_its_own_file_system(tmp_path, monkeypatch, place):
    out, temporary = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    temporary.mkdir()
    short = out if place == "out" else temporary
    monkeypatch.setattr(disk, "_same_file_system", lambda one, other: False)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda folder: Free(0, 0, (10 if folder == short else 10_000) * 2**20))
    assert disk.room_problems(out, temporary, 1, 1, 0) == [
        f"{short} has 10 MB free and this batch needs about {65 if place == 'out' else 80} MB there"]
