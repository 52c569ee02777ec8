"""Each containment layer proven by switching it off: the attack it stops then succeeds.

The switch is a private environment variable for these tests (``LORA_GRADER_DISABLE_LAYERS``),
never a user option. Each test grades a few attacks in an arena of its own (``arena.py``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.run.testrun import kept_output
from grader.sandbox import kernel_objects

from .arena import ADVERSARIAL, CORRECT, ROOT, SECRET, Arena, Listeners, fingerprint, outputs
from .arena import attacks as attacks_module

LIMITS = ("--timeout", "20", "--cpu-time", "15", "--test-timeout", "5", "--memory", "1500")


def attacks(*names: str) -> list[Path]:
    return [ADVERSARIAL / f"{name}.py" for name in names]


@pytest.fixture
def arena(tmp_path):
    arena = Arena(tmp_path)
    yield arena
    arena.kill_survivors()


def test_without_the_filesystem_layer_files_outside_are_read_and_written(arena):
    # one job: write_outside overwrites every tiny model it finds, read_outside's copies among them when both run at
    # once (read_outside's tests then all end at the start: a race seen once in CI); graded in turn, read first
    run = arena.grade(attacks("read_outside", "write_outside"), *LIMITS, "--jobs", "1", disabled="filesystem")
    assert run.returncode == 0, run.stderr
    assert SECRET in outputs(arena.results("read_outside"))
    assert arena.escaped_files()
    assert fingerprint(arena.checkout / "tiny_models") != arena.models
    assert "containment missing on this machine: filesystem" in run.stderr


def test_without_the_filesystem_layer_other_results_are_rewritten(arena):
    victim = arena.root / "victim.py"
    shutil.copy(ADVERSARIAL / "empty.py", victim)
    assert arena.grade([victim], *LIMITS).returncode == 0
    run = arena.grade([victim, *attacks("rewrite_results")], *LIMITS, disabled="filesystem")
    assert run.returncode == 0, run.stderr
    assert arena.results("victim")["score"] == 100


def test_without_the_network_layer_tcp_udp_and_unix_sockets_get_through(arena):
    listeners = Listeners()
    try:
        run = arena.grade(attacks("tcp_connect", "udp_send", "unix_connect"), *LIMITS, disabled="network")
    finally:
        received = listeners.close()
    assert run.returncode == 0, run.stderr
    assert sorted(received) == [b"escaped over TCP", b"escaped over UDP", b"escaped over a unix socket"]


IPC_KEY = attacks_module.IPC_KEY + 1  # not the adversarial batch's, which may run beside this test
IPC = (IPC_KEY, attacks_module.ipc_name(IPC_KEY))


@pytest.fixture
def ipc_attacks(arena) -> list[Path]:
    """The IPC attacks with a key of this test's own, and none of its objects before the test or left after it
    (with the layer switched off they stay where the grader runs)."""
    copies, ours = [], (f"IPC_KEY = {attacks_module.IPC_KEY:#x}", f"IPC_KEY = {IPC_KEY:#x}")
    for path in attacks("ipc_leave", "ipc_look"):
        copies.append(arena.root / path.name)
        copies[-1].write_text(path.read_text().replace(*ours))
    kernel_objects.remove(*IPC)
    yield copies
    kernel_objects.remove(*IPC)


def test_without_the_ipc_layer_a_run_finds_what_the_one_before_left(arena, ipc_attacks):
    run = arena.grade(ipc_attacks, *LIMITS, "--jobs", "1", disabled="ipc")
    assert run.returncode == 0, run.stderr
    assert arena.results("ipc_leave")["score"] == 100
    look = outputs(arena.results("ipc_look"))
    # A POSIX message queue it cannot open: Landlock checks the open of an existing queue as a file's, though it
    # lets one be created; the IPC namespace is what frees a created one when the run ends.
    assert "escaped: another run's ['shared memory', 'message queue', 'semaphores', 'key']" in look
    assert kernel_objects.find(*IPC) == list(kernel_objects.KINDS)  # outliving the run, its worker and the grader


def test_without_the_signal_layer_the_judge_is_killed_and_the_next_one_is_not(arena):
    honest = arena.root / "honest.py"
    shutil.copy(CORRECT, honest)
    run = arena.grade([*attacks("kill_parent"), honest], *LIMITS, "--jobs", "1", disabled="signals")
    assert run.returncode == 0, run.stderr
    killer = arena.results("kill_parent")
    assert killer["score"] == 0, killer["output"][:2000]  # its judge died before any verdict
    assert arena.results("honest")["score"] == 100  # graded next, on the same worker


FORGERIES = ("forge_reports", "forge_report_channel", "skip_test_bodies", "swap_helper_code", "hooks_from_gc")


def test_without_the_split_forgeries_earn_full_marks_and_the_tests_leak(arena):
    """With the suite in the submission's process (the judge/subject split off), generic lines on the untouched
    template score 100 and a submission's feedback shows the test files."""
    run = arena.grade(attacks(*FORGERIES, "read_tests"), *LIMITS, disabled="split")
    assert run.returncode == 0, run.stderr
    for name in FORGERIES:
        assert arena.results(name)["score"] == 100, name
    assert "def test_" in (arena.out / "read_tests" / "feedback.md").read_text()


def test_without_the_filesystem_and_signal_layers_the_grader_is_killed(arena):
    run = arena.grade(attacks("kill_grader"), *LIMITS, disabled="filesystem,signals")
    assert run.returncode == -9
    assert not (arena.out / "grades.csv").exists()


def test_without_a_control_group_a_fork_bomb_is_not_capped(arena):
    run = arena.grade(attacks("fork_bomb"), *LIMITS, disabled="cgroup")
    assert run.returncode == 0, run.stderr
    result = arena.results("fork_bomb")
    # uncapped, its processes pile up until the grader's polled watchdog stops it, with no points
    assert result["extra_data"]["tree_limits"] == "polled"
    assert result["extra_data"]["stopped"] == "out of memory" and result["score"] == 0
    assert arena.survivors() == []


def test_without_the_disk_layer_the_cap_is_passed_before_the_watch_sees_it(arena):
    run = arena.grade(attacks("disk_filler", "file_creator"), *LIMITS, "--disk", "64", "--disk-files", "2000",
                      disabled="disk")
    assert run.returncode == 0, run.stderr
    filler, creator = arena.results("disk_filler")["extra_data"], arena.results("file_creator")["extra_data"]
    assert filler["peak_disk_mb"] > 64 and creator["peak_disk_files"] > 2000
    # the grader's watch still stops them once it sees them past the cap, and their files go with the workspace
    assert (filler["stopped"], filler["limit"]) == ("disk full", "--disk 64 MB")
    assert (creator["stopped"], creator["limit"]) == ("disk full", "--disk-files 2000")
    assert not [path for path in arena.root.rglob("lora-grader-filler-*")]


# The grader on the unified hierarchy: /sys/fs/cgroup replaced by a cgroup2 mount in a mount namespace of its own.
# Here its memory and pids controllers stay bound to the version 1 hierarchies, so those two limits are polled.
CGROUP2 = ("unshare", "-m", "sh", "-c", 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', "sh")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="mounting a cgroup2 hierarchy in a mount namespace of its own needs root and unshare")
def test_on_the_unified_hierarchy_a_version_2_group_holds_the_tree(arena):
    doctor = subprocess.run([*CGROUP2, sys.executable, "-m", "grader", "doctor"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert "control group v2 (cgroup.kill, cpu.stat); polled: memory, pids" in doctor.stdout, doctor.stdout
    run = arena.grade(attacks("busy_children"), "--timeout", "60", "--cpu-time", "6", prefix=CGROUP2)
    assert run.returncode == 0, run.stderr
    extra = arena.results("busy_children")["extra_data"]  # its detached children's CPU counted by the group
    assert (extra["tree_limits"], extra["tree_polled"], extra["stopped"]) == ("cgroup2", ["memory", "pids"], "CPU time")
    assert arena.survivors() == []  # the detached children ended with the run


@pytest.mark.parametrize("where", ["checkout", "temporary folder"])
def test_doctor_reports_every_layer_in_force_here(tmp_path, where):
    """Also from a folder that holds the workspaces: a grader started there has it on its ``sys.path``."""
    run = subprocess.run([sys.executable, "-m", "grader", "doctor"], cwd=ROOT if where == "checkout" else tmp_path,
                         env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "MISSING" not in run.stdout and " NO" not in run.stdout
    for layer in ("filesystem", "network", "ipc", "signals", "disk", "process tree"):
        assert layer in run.stdout
    assert "--isolation strict can grade here" in run.stdout


@pytest.mark.parametrize("layer", ["filesystem", "network", "ipc"])
def test_strict_isolation_refuses_to_grade_without_a_layer(tmp_path, layer):
    env = {**os.environ, "LORA_GRADER_DISABLE_LAYERS": layer}
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(CORRECT), "--out", str(tmp_path / "out"),
                          "--isolation", "strict"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and layer in run.stderr
    assert not (tmp_path / "out").exists()


def test_the_childs_output_is_read_only_from_a_regular_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    link = tmp_path / "output"
    link.symlink_to(secret)
    assert kept_output(link, 1000) == ("", 0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert kept_output(fifo, 1000) == ("", 0)  # and it did not block
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    assert kept_output(big, 1000) == ("x" * 1000, 4000)
