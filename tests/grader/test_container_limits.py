"""Limits taken from the container the grader runs in: a platform (Gradescope, PrairieLearn) kills the whole
container past its memory or its timeout, and the student then gets nothing; the grader's own limits must sit
inside them."""

import pytest

from grader import cli
from grader.assignments.pack import find
from grader.platforms import gradescope
from grader.sandbox import cgroups


def tree(root, relative: str, files: dict[str, str]) -> None:
    """Control-group files at ``relative`` below ``root``: {"a/b/memory.max": "1024"}."""
    for path, text in files.items():
        (root / relative / path).parent.mkdir(parents=True, exist_ok=True)
        (root / relative / path).write_text(text + "\n")


def test_version_1_takes_the_tightest_limit_at_or_above_its_group(tmp_path):
    own = tmp_path / "cgroup"
    own.write_text("4:memory:/docker/abc\n3:cpu:/docker/abc\n")
    tree(tmp_path / "mounts", "memory", {"memory.limit_in_bytes": "9223372036854771712",
                                         "docker/memory.limit_in_bytes": str(768 * 2**20),
                                         "docker/abc/memory.limit_in_bytes": "9223372036854771712"})
    assert cgroups.container_memory_mb(tmp_path / "mounts", own) == 768


def test_version_2_reads_memory_max(tmp_path):
    own = tmp_path / "cgroup"
    own.write_text("0::/job/step\n")
    tree(tmp_path / "mounts", "", {"cgroup.controllers": "memory pids", "job/memory.max": str(2048 * 2**20),
                                   "job/step/memory.max": "max"})
    assert cgroups.container_memory_mb(tmp_path / "mounts", own) == 2048


def test_nothing_limits_an_unlimited_or_unreadable_group(tmp_path):
    own = tmp_path / "cgroup"
    own.write_text("4:memory:/\n")
    tree(tmp_path / "mounts", "memory", {"memory.limit_in_bytes": "9223372036854771712"})
    assert cgroups.container_memory_mb(tmp_path / "mounts", own) is None
    assert cgroups.container_memory_mb(tmp_path / "mounts", tmp_path / "missing") is None


@pytest.mark.parametrize("container, jobs, per_submission", [(4096, 1, 4096 - cli.GRADER_OWN_MB),
                                                               (4096, 2, 2048 - cli.GRADER_OWN_MB),
                                                               (None, 1, 4096)])
def test_memory_container_leaves_the_grader_its_share(monkeypatch, container, jobs, per_submission):
    monkeypatch.setattr(cgroups, "container_memory_mb", lambda: container)
    assert cli.memory_per_submission("container", jobs) == per_submission
    assert cli.memory_per_submission(1000, jobs) == 1000  # a number is taken as it is


def test_a_container_too_small_is_refused_with_what_it_needs(monkeypatch, tmp_path, capsys):
    """Gradescope's default container (768 MB): grading there would end in the platform's kill, with nothing shown."""
    monkeypatch.setattr(cgroups, "container_memory_mb", lambda: 768)
    module = tmp_path / "lora_bert.py"
    module.write_text("x = 1\n")
    assert cli.main(["grade", str(module), "--out", str(tmp_path / "out"), "--memory", "container"]) == 2
    error = capsys.readouterr().err
    assert "this container allows 768 MB" in error and "at least 1152 MB" in error
    assert not (tmp_path / "out").exists()


def test_gradescope_stops_the_grader_before_the_autograder_timeout():
    assert "--timeout 480 --cpu-time 480 --memory container" in gradescope.run_autograder(600, find())
    assert "--timeout 1080 --cpu-time 1080" in gradescope.run_autograder(1200, find())
    with pytest.raises(ValueError, match="at least 241 s"):
        gradescope.run_autograder(200, find())
