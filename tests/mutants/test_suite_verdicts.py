"""The assignment suite rejects every broken implementation of ``mutants.py`` and accepts every correct one.

Each implementation is judged as a student's would be: the suite runs on it in a
fresh interpreter, and its JUnit XML report says which tests failed. The runs go in
parallel, one per core, started together when the first verdict is needed.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .mutants import BROKEN, CORRECT, Mutant

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "assignment"
REFERENCE = ROOT / "reference" / "lora_bert.py"


@dataclass
class Verdict:
    passed: int
    failed: set[str]  # test function names, without parameters
    output: str


def judge(mutant: Mutant, folder: Path) -> Verdict:
    submission = folder / f"{mutant.name}.py"
    submission.write_text(mutant.apply(REFERENCE.read_text()))
    report = folder / f"{mutant.name}.xml"
    command = [sys.executable, "-m", "pytest", str(SUITE), "--submission", str(submission),
               "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    if not report.exists():
        raise RuntimeError(f"the suite wrote no report for {mutant.name}:\n{run.stdout}\n{run.stderr}")
    passed, failed = 0, set()
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.get("name").split("[")[0])
        elif case.find("skipped") is None:
            passed += 1
    return Verdict(passed, failed, run.stdout[-3000:])


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
    missed = [test for test in mutant.caught_by if test not in verdict.failed]
    assert not missed, (f"{mutant.description}: these tests should fail and did not: {missed}; "
                        f"failing: {sorted(verdict.failed)}\n{verdict.output}")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mutant", CORRECT, ids=lambda mutant: mutant.name)
def test_suite_accepts_correct_implementation(mutant, verdicts):
    verdict = verdicts[mutant.name].result()
    assert not verdict.failed, f"{mutant.description}: failing tests {sorted(verdict.failed)}\n{verdict.output}"
    assert verdict.passed >= 70, f"{mutant.description}: only {verdict.passed} tests passed\n{verdict.output}"
