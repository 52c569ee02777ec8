"""Run the assignment suite on a submission in a fresh interpreter and read what each test did."""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from grader.layout import ROOT


@dataclass
class SuiteRun:
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> passed, failed or skipped
    messages: dict[str, str] = field(default_factory=dict)  # test id -> failure text
    output: str = ""

    def with_outcome(self, outcome: str) -> set[str]:
        return {test for test, found in self.outcomes.items() if found == outcome}

    @property
    def failed_functions(self) -> set[str]:
        """The names of the test functions with a failing case, without parameters."""
        return {test.rpartition("::")[2].split("[")[0] for test in self.with_outcome("failed")}


def suite_environment() -> dict[str, str]:
    """What a student's ``pytest`` runs with here: offline, one thread."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run_suite(submission: Path | None, *, cwd: Path = ROOT, args: tuple[str, ...] = ("tests/assignment",)) -> SuiteRun:
    """``python -m pytest ARGS --submission SUBMISSION`` in ``cwd``, single-threaded and offline."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        command = [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
        if submission is not None:
            command += ["--submission", str(submission)]
        run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                             env=suite_environment())
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report:\n{run.stdout}\n{run.stderr}")
        result = SuiteRun(output=run.stdout[-4000:])
        for case in ElementTree.parse(report).iter("testcase"):
            test = f"{case.get('classname').replace('.', '/')}.py::{case.get('name')}"
            problem = case.find("failure") if case.find("failure") is not None else case.find("error")
            if problem is not None:
                result.outcomes[test] = "failed"
                result.messages[test] = f"{problem.get('message', '')}\n{problem.text or ''}"
            else:
                result.outcomes[test] = "skipped" if case.find("skipped") is not None else "passed"
        return result


def collected(args: tuple[str, ...], *, cwd: Path = ROOT) -> set[str]:
    """The test ids ``python -m pytest --collect-only ARGS`` collects in ``cwd``: what a run would run, without
    running it."""
    run = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=cwd, capture_output=True, text=True, timeout=300, env=suite_environment())
    if run.returncode != 0:
        raise RuntimeError(f"pytest could not collect:\n{run.stdout}\n{run.stderr}")
    return {line for line in run.stdout.splitlines() if "::" in line}
