"""The umd-lorabert pack, graded by the shared suite with its own conventions: each broken implementation of
``umd_lorabert.py`` is rejected by the tests it names and costs only its own part's tests (and the declared
dependencies); the correct ones and the reference score 100, the template 0."""

import json
import os
import shutil

import pytest

from grader.assignments.pack import find

from ..warm_grader import grader
from . import isolation
from .umd_lorabert import BROKEN, CORRECT, Mutant

UMD = find("umd-lorabert")
REFERENCE = UMD.reference.read_text()


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[str, dict]:
    """The pack's mutants and its template, graded in one batch: name -> results.json."""
    folder, out = tmp_path_factory.mktemp("umd"), tmp_path_factory.mktemp("umd-graded")
    for mutant in BROKEN + CORRECT:
        (folder / f"{mutant.name}.py").write_text(mutant.apply(REFERENCE))
    shutil.copy(UMD.template / UMD.file_names[0], folder / "template.py")
    run = grader("grade", folder, "--out", out, "--quiet", "--no-report", "--seed", "0", "--assignment", UMD.name,
                 timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    return {path.name: json.loads((path / "results.json").read_text()) for path in out.iterdir() if path.is_dir()}


def failed(result: dict) -> set[str]:
    """``test_file.py::test_function`` of each failing test, without parameters."""
    return {test["name"].split("[")[0] for test in result["tests"] if test["status"] == "failed"}


@pytest.mark.parametrize("mutant", BROKEN, ids=lambda mutant: mutant.name)
def test_each_broken_implementation_is_rejected_by_its_tests_and_costs_its_part_only(mutant: Mutant, verdicts):
    found = failed(verdicts[mutant.name])
    missed = [test for test in mutant.caught_by if test not in {name.rpartition("::")[2] for name in found}]
    assert not missed, f"{mutant.description}: these tests should fail and did not: {missed}; failing: {found}"
    (part,) = isolation.parts(REFERENCE, mutant.edits)
    elsewhere = sorted(test for test in found if not isolation.allowed(part, test))
    assert not elsewhere, f"{mutant.description} (a defect of {part}) fails tests of other parts: {elsewhere}"


@pytest.mark.parametrize("mutant", CORRECT, ids=lambda mutant: mutant.name)
def test_correct_implementations_earn_full_marks(mutant: Mutant, verdicts):
    result = verdicts[mutant.name]
    assert result["score"] == pytest.approx(100) and not failed(result), failed(result)


def test_the_template_scores_zero(verdicts):
    result = verdicts["template"]
    assert result["score"] == 0 and len(result["tests"]) > 50  # the whole suite ran: every part, zero points
