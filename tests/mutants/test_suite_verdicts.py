"""The assignment suite rejects every broken implementation of ``mutants.py`` and accepts every correct one.

Each implementation is judged as a class is graded: all of them in one batch of the grader
(warm workers, judge and subject apart), whose ``results.json`` files say which tests failed.
A sample, one broken implementation per part and a few correct ones, is judged a second
time as a student's ``pytest`` judges it (one process, the submission imported into it: ``suite_run.py``),
and must fail exactly the same tests: both modes are one suite.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.assignments.pack import find

from ..suite_run import run_suite
from ..warm_grader import grader
from . import clauses, isolation
from .mutants import BROKEN, CORRECT, Mutant

LORA_BERT = find("lora-bert")

REFERENCE = LORA_BERT.reference
# One broken implementation per part, the in-process tamperer, and correct ones. Not scaling_alpha: with a
# scaling 8 times too large its training tests are numerically chaotic, and two processes that lay their
# tensors out differently in memory can round differently.
PARITY = ("b_random", "scaling_floor_division", "dropout_between_A_and_B", "nothing_frozen", "freeze_minus_zero",
          "substring_match", "merge_without_scaling", "count_frozen", "allclose_patched_in_merge",
          "reference", "einsum_forward", "setting_default_dtype")


def failed_functions(tests) -> set[str]:
    """The names of the test functions with a failing case, without parameters or file."""
    return {test.rpartition("::")[2].split("[")[0] for test in tests}


@pytest.fixture(scope="session")
def verdicts(tmp_path_factory) -> dict[str, dict]:
    """Every implementation graded in one batch: name -> results.json."""
    folder, out = tmp_path_factory.mktemp("mutants"), tmp_path_factory.mktemp("graded")
    reference = REFERENCE.read_text()
    for mutant in BROKEN + CORRECT:
        (folder / f"{mutant.name}.py").write_text(mutant.apply(reference))
    # --seed 0: the inputs a student's pytest draws by default, for the comparison of the two modes
    run = grader("grade", folder, "--out", out, "--quiet", "--no-report", "--seed", "0", timeout=1200,
                 env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    return {mutant.name: json.loads((out / mutant.name / "results.json").read_text())
            for mutant in BROKEN + CORRECT}


def failing(result: dict) -> set[str]:
    return {test["name"] for test in result["tests"] if test["status"] == "failed"}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("mutant", BROKEN, ids=lambda mutant: mutant.name)
def test_suite_rejects_broken_implementation(mutant: Mutant, verdicts):
    failed = failed_functions(failing(verdicts[mutant.name]))
    missed = [test for test in mutant.caught_by if test not in failed]
    assert not missed, f"{mutant.description}: these tests should fail and did not: {missed}; failing: {sorted(failed)}"
    in_files = {test.split("[")[0] for test in failing(verdicts[mutant.name])}
    unguarded = [row.sentence for row in clauses.load(LORA_BERT)[1]
                 if mutant.name in row.mutants and not row.has_failing_test(in_files)]
    assert not unguarded, f"{mutant.description}: none of the tests of these rows of CLAUSES.md fails: {unguarded}"


SINGLE_PART = [m for m in BROKEN if len(isolation.parts(REFERENCE.read_text(), m.edits)) == 1]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("mutant", SINGLE_PART, ids=lambda mutant: mutant.name)
def test_a_broken_part_costs_only_its_own_tests(mutant: Mutant, verdicts):
    """The isolation matrix: a defect in one part fails tests of that part and of the declared dependencies only."""
    (part,) = isolation.parts(REFERENCE.read_text(), mutant.edits)
    failed = {test.split("[")[0] for test in failing(verdicts[mutant.name])}
    elsewhere = sorted(test for test in failed if not isolation.allowed(part, test))
    assert not elsewhere, f"{mutant.description} (a defect of {part}) fails tests of other parts: {elsewhere}"


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("mutant", CORRECT, ids=lambda mutant: mutant.name)
def test_suite_accepts_correct_implementation(mutant: Mutant, verdicts):
    result = verdicts[mutant.name]
    assert not failing(result), f"{mutant.description}: failing tests {sorted(failing(result))}"
    passed = [test for test in result["tests"] if test["status"] == "passed"]
    assert len(passed) >= 70 and result["score"] == 100, f"{mutant.description}: only {len(passed)} tests passed"


@pytest.fixture(scope="session")
def student_verdicts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    reference = REFERENCE.read_text()
    mutants = {mutant.name: mutant for mutant in BROKEN + CORRECT}

    def judge(name: str):
        submission = folder / f"{name}.py"
        submission.write_text(mutants[name].apply(reference))
        return run_suite(submission)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        yield {name: pool.submit(judge, name) for name in PARITY}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", PARITY)
def test_a_students_pytest_fails_the_tests_the_grader_fails(name, verdicts, student_verdicts):
    student = student_verdicts[name].result()
    in_student_mode = {test.removeprefix("tests/assignment/") for test in student.with_outcome("failed")}
    assert in_student_mode == failing(verdicts[name]), student.output
