"""A grade belongs to what was graded: a rerun reuses a result only when nothing that decided it changed."""

import shutil
from pathlib import Path

import pytest

from grader.assignments.pack import find

from ..warm_grader import grader

LORA_BERT = find("lora-bert")

EXAMPLES = LORA_BERT.examples


def grade(folder: Path, out: Path, *options: str) -> str:
    run = grader("grade", folder, "--out", out, "--quiet", *options)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, Path, Path]:
    """lee graded once for the module; a copy of the class and its --out kept aside."""
    root = tmp_path_factory.mktemp("reruns")
    folder, out = root / "class", root / "out"
    folder.mkdir()
    shutil.copy(EXAMPLES / "scaling_alpha.py", folder / "lee.py")
    assert "1 graded, 0 regraded, 0 reused unchanged" in grade(folder, out)
    shutil.copytree(root, root.with_name(root.name + "-kept"), copy_function=shutil.copy2)
    return folder, out, root.with_name(root.name + "-kept")


@pytest.fixture
def graded(pristine) -> tuple[Path, Path]:
    """The class and its --out as the first grading left them, at the paths it graded (a result records where its
    submission came from, so a copy elsewhere would be graded from another file)."""
    folder, out, kept = pristine
    for path in (folder, out):
        shutil.rmtree(path)
        shutil.copytree(kept / path.name, path, copy_function=shutil.copy2)
    return folder, out


def score(out: Path) -> str:
    return next(line for line in (out / "grades.csv").read_text().splitlines() if line.startswith("lee,"))


def test_an_unchanged_rerun_reuses_the_result(graded):
    folder, out = graded
    assert "0 graded, 0 regraded, 1 reused unchanged" in grade(folder, out)


def test_a_fixed_submission_is_regraded(graded):
    folder, out = graded
    before = score(out)
    shutil.copy(EXAMPLES / "correct.py", folder / "lee.py")
    table = grade(folder, out)
    assert "regraded lee: the submission changed" in table
    assert score(out) != before and score(out).startswith("lee,100")


def test_other_limits_regrade(graded):
    folder, out = graded
    assert "regraded lee: the limits changed" in grade(folder, out, "--memory", "3000")


def test_another_file_under_the_same_name_is_regraded(graded):
    folder, out = graded
    (folder / "lee.py").rename(folder / "lee_.py")  # both names map to "lee"
    assert "regraded lee: graded from another file" in grade(folder, out)
