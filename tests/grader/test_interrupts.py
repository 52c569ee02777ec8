"""Ctrl-C and SIGTERM stop a batch cleanly: what finished keeps its grade, what was running gets none."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from grader.assignments.pack import find
from grader.layout import ROOT
from grader.sandbox import cgroups

from ..warm_grader import grader as warm_grader

LORA_BERT = find("lora-bert")

CORRECT = LORA_BERT.examples / "correct.py"


def start(folder: Path, out: Path, scratch: Path) -> subprocess.Popen:
    """The grader, with a temporary folder of its own: its workers live there, and only there (the tests run in
    parallel, and another test's batch has workers of this checkout too)."""
    scratch.mkdir()
    return subprocess.Popen([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out), "--quiet",
                             "--jobs", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(scratch)})


def wait_for_first_result(out: Path, grader: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not list(out.glob("*/results.json")):
        assert grader.poll() is None and time.monotonic() < deadline, "no submission was graded"
        time.sleep(0.1)
    time.sleep(1.5)  # the next submission is under way


def workers_started_after(moment: float, scratch: Path) -> list[int]:
    """This checkout's grading processes (workers, judges, zygotes, subjects) started since ``moment`` in
    ``scratch`` and still alive."""
    found = []
    for process in psutil.process_iter(["cmdline", "create_time", "status", "cwd"]):
        command = " ".join(process.info["cmdline"] or ())
        if ("grader.run.warm_worker import main" in command and repr(str(ROOT)) in command
                and str(process.info["cwd"] or "").startswith(str(scratch))
                and process.info["create_time"] >= moment and process.info["status"] != psutil.STATUS_ZOMBIE):
            found.append(process.pid)
    return found


def workers_left(moment: float, scratch: Path, within: float = 3.0) -> list[int]:
    """The workers started since ``moment`` still alive ``within`` seconds from now: a SIGKILLed process can
    take a moment to go on a loaded machine, while a worker started unseen would be importing torch."""
    deadline = time.monotonic() + within
    while (found := workers_started_after(moment, scratch)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.fixture
def class_folder(tmp_path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "ben", "cat", "dan"):
        shutil.copy(CORRECT, folder / f"{name}.py")
    return folder


@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)])
def test_an_interrupt_leaves_no_wrong_grade_and_a_rerun_finishes(class_folder, tmp_path, signals):
    out, scratch, began = tmp_path / "out", tmp_path / "scratch", time.time()
    grader = start(class_folder, out, scratch)
    try:
        wait_for_first_result(out, grader)
        for sig in signals:
            grader.send_signal(sig)
            time.sleep(0.05)
        _, stderr = grader.communicate(timeout=60)
    finally:  # a grader that hangs fails the test, and must not outlive it
        grader.kill()
        grader.wait()
    assert grader.returncode == 130, stderr
    assert "Traceback" not in stderr
    graded = {path.parent.name: json.loads(path.read_text())["score"] for path in out.glob("*/results.json")}
    assert graded and set(graded.values()) == {100}  # nothing interrupted was written as a grade
    assert len(graded) < 4
    if len(signals) == 1:
        assert "run the same command again" in stderr
        assert len((out / "grades.csv").read_text().splitlines()) == 1 + len(graded)
    assert workers_left(began, scratch) == []
    rerun = warm_grader("grade", class_folder, "--out", out, "--quiet", timeout=600)  # no signal: a warm fork will do
    assert rerun.returncode == 0, rerun.stderr
    assert groups_of(grader.pid) == []  # a second Ctrl-C leaves its run's group; the rerun removes it
    assert f"{4 - len(graded)} graded, 0 regraded, {len(graded)} reused unchanged" in rerun.stdout
    assert [line.split(",")[1] for line in (out / "grades.csv").read_text().splitlines()[1:]] == ["100.0"] * 4


def groups_of(grader: int) -> list[Path]:
    """The run groups a grader made (``cgroups.run_name``) that are still there."""
    return [folder for parent in cgroups.own_groups().values() for folder in parent.glob(f"lora-grader-{grader}-*")]


@pytest.fixture
def group_and_sleeper():
    """A run group of this test's own (version 1) and a sleeping process not in it yet; both gone afterwards, thawed
    first (a frozen process outlives even SIGKILL)."""
    group = cgroups.RunGroup.create(f"lora-grader-test-{os.getpid()}", tasks=16, memory_mb=256)
    if group is None:
        pytest.skip("no writable control group (version 1) here")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield group, sleeper
    group.thaw()
    sleeper.kill()
    sleeper.wait()
    group.remove()


def join(group: cgroups.RunGroup, process: subprocess.Popen) -> None:
    for procs in group.procs_files:
        Path(procs).write_text(str(process.pid))


def test_a_second_interrupt_thaws_a_run_the_first_froze(group_and_sleeper):
    """A second Ctrl-C exits at once (``batch.interrupts_stop``), maybe while another thread's ``RunGroup.kill``
    has frozen a run and not thawed it yet: a frozen process outlives even SIGKILL, and nothing else would ever thaw
    it. ``thaw_all``, called on the way out, lets the SIGKILL already sent take effect."""
    group, sleeper = group_and_sleeper
    join(group, sleeper)
    (group.folders["freezer"] / "freezer.state").write_text("FROZEN")
    sleeper.send_signal(signal.SIGKILL)
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=1)  # frozen: the SIGKILL waits
    cgroups.thaw_all()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL


def test_a_process_that_joins_a_run_group_after_its_kill_is_not_left_frozen(group_and_sleeper):
    """A run's tree is killed (``RunGroup.kill``) when the run ends, and a run stopped as it starts ends before its
    zygote has joined the group: the kill finds nobody there. A freeze left behind would stop the zygote as it
    joins, its SIGKILL pending, and the grader, reaping orphans, would wait for it for ever (a SIGTERM to a batch
    hung so in CI)."""
    group, sleeper = group_and_sleeper
    group.kill()  # nobody in it yet
    join(group, sleeper)
    sleeper.send_signal(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL


@pytest.fixture
def left_behind():
    """A run group named for a grader that no longer runs (``cgroups.run_name``'s form, a pid nobody has now), as a
    grader killed outright leaves it; gone afterwards, thawed first."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    group = cgroups.RunGroup.create(f"lora-grader-{int(gone.stdout)}-{'0' * 16}", tasks=16, memory_mb=256)
    if group is None:
        pytest.skip("no writable control group (version 1) here")
    yield group
    group.thaw()
    group.remove()


def test_a_grader_ends_the_run_groups_of_a_grader_that_is_gone(left_behind, group_and_sleeper):
    """A grader killed outright leaves its run groups, maybe with a submission's daemon in one; the next grader
    ends and removes them (``cgroups.sweep``), and leaves the groups of graders still running alone."""
    _, daemon = group_and_sleeper
    running = cgroups.RunGroup.create(cgroups.run_name("f" * 16), tasks=16, memory_mb=256)
    try:
        join(left_behind, daemon)
        cgroups.sweep()
        assert daemon.wait(timeout=30) == -signal.SIGKILL
        assert [folder for folder in left_behind.folders.values() if folder.exists()] == []
        assert all(folder.exists() for folder in running.folders.values())
    finally:
        running.remove()


def test_two_graders_sweeping_the_same_group_do_not_fail(left_behind, monkeypatch):
    """Two graders that start together sweep the same groups: the one that finds a group gone half-way on (the
    other removed it) goes on."""

    def removed_meanwhile(group):
        group.remove()
        raise FileNotFoundError(group.folders["pids"] / "cgroup.procs")

    monkeypatch.setattr(cgroups.RunGroup, "pids", removed_meanwhile)
    cgroups.sweep()
    assert [folder for folder in left_behind.folders.values() if folder.exists()] == []


def test_an_interrupted_command_exits_130_when_a_signal_lands_as_python_shuts_down():
    """The double Ctrl-C test's race, made certain: the command has returned 130 and Python is shutting down (its
    default handlers back) when a second SIGINT lands, sent here by an object dropped at the very end."""
    late = ("import os, signal, sys\n"
            "from grader import cli\n"
            "class Late:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "late = Late()\n"
            "cli.main = lambda: cli.INTERRUPTED\n"
            "sys.exit(cli.entry_point())\n")
    assert subprocess.run([sys.executable, "-c", late], cwd=ROOT, timeout=60).returncode == 130
