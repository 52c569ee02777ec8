"""The assignment suite rejects every broken implementation of ``mutants.py`` and accepts every correct one.

Each implementation is judged as a student's would be: the suite runs on it in a
fresh interpreter, and its JUnit XML report says which tests failed. The runs go in
parallel, one per core, started together when the first verdict is needed.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ..suite_run import SuiteRun, run_suite
from . import clauses
from .mutants import BROKEN, CORRECT, Mutant

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "lora_bert.py"


def judge(mutant: Mutant, folder: Path) -> SuiteRun:
    submission = folder / f"{mutant.name}.py"
    submission.write_text(mutant.apply(REFERENCE.read_text()))
    return run_suite(submission)


@pytest.fixture(scope="session")
def verdicts(request, tmp_path_factory):
    """Futures of the verdicts of the implementations that this run selected."""
    selected = {item.callspec.params["mutant"].name for item in request.session.items
                if "mutant" in getattr(getattr(item, "callspec", None), "params", {})}
    folder = tmp_path_factory.mktemp("mutants")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        yield {mutant.name: pool.submit(judge, mutant, folder)
               for mutant in BROKEN + CORRECT if mutant.name in selected}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mutant", BROKEN, ids=lambda mutant: mutant.name)
def test_suite_rejects_broken_implementation(mutant, verdicts):
    verdict = verdicts[mutant.name].result()
    missed = [test for test in mutant.caught_by if test not in verdict.failed_functions]
    assert not missed, (f"{mutant.description}: these tests should fail and did not: {missed}; "
                        f"failing: {sorted(verdict.failed_functions)}\n{verdict.output}")
    unguarded = [row.sentence for row in clauses.load()[1]
                 if mutant.name in row.mutants and not set(row.tests) & verdict.failed_functions]
    assert not unguarded, f"{mutant.description}: none of the tests of these rows of CLAUSES.md fails: {unguarded}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mutant", CORRECT, ids=lambda mutant: mutant.name)
def test_suite_accepts_correct_implementation(mutant, verdicts):
    verdict = verdicts[mutant.name].result()
    failed, passed = verdict.with_outcome("failed"), verdict.with_outcome("passed")
    assert not failed, f"{mutant.description}: failing tests {sorted(failed)}\n{verdict.output}"
    assert len(passed) >= 70, f"{mutant.description}: only {len(passed)} tests passed\n{verdict.output}"
