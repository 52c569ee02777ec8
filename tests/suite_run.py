"""Run the assignment suite on a submission as a student's ``pytest`` runs it, and read what each test did."""

import multiprocessing
import os
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from grader.layout import ROOT
from grader.run.warm_worker import WARM_MODULES


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


RUN_TIMEOUT = 300


def forkserver():
    """multiprocessing's forkserver, told to import once, when it starts (on first use), what the grader's warm
    workers import for the suite (``WARM_MODULES``): a fresh interpreter spends some 2.5 CPU seconds on it, more
    than the suite's 97 tests then take."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WARM_MODULES))
    return context


def _be_pytest(cwd: str, args: list[str], output: str) -> None:
    """In a child of the forkserver: be ``python -m pytest ARGS`` started in ``cwd``, all its output into ``output``.

    Elsewhere than this checkout (a student bundle), the folder's own ``tests`` package replaces this checkout's,
    which the child imported to find this function: its modules are forgotten and the checkout leaves the path."""
    os.chdir(cwd)
    if Path(cwd).resolve() != ROOT:
        for name in [name for name in sys.modules if name == "tests" or name.startswith("tests.")]:
            del sys.modules[name]
        sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT]
    sys.path.insert(0, cwd)  # as ``python -m`` puts the current folder first
    os.environ.update(suite_environment())
    written = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(written, 1)
    os.dup2(written, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115  the child's streams for the rest of its life
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    import pytest

    sys.exit(int(pytest.main(args)))


def pytest_in(cwd: Path, args: list[str]) -> tuple[int, str]:
    """``python -m pytest ARGS`` in ``cwd``, single-threaded and offline: its exit code and output.

    The run is a child of a forkserver that has imported ``WARM_MODULES`` already; pytest then
    starts, collects and runs as in a fresh interpreter, the suite and the submission imported
    for the first time (in a student bundle, the bundle's own suite: ``_be_pytest``). The
    commands of a bundle's README run as a student types them, in fresh interpreters
    (test_release.py).
    """
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "output"
        child = forkserver().Process(target=_be_pytest, args=(str(cwd), args, str(output)))
        child.start()
        child.join(RUN_TIMEOUT)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise TimeoutError(f"pytest {' '.join(args)} ran past {RUN_TIMEOUT} s")
        return child.exitcode, output.read_text(errors="replace") if output.exists() else ""


def run_suite(submission: Path | None, *, cwd: Path = ROOT, args: tuple[str, ...] = ("tests/assignment",)) -> SuiteRun:
    """``python -m pytest ARGS --submission SUBMISSION`` in ``cwd`` (``pytest_in``), read from its JUnit report."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        command = [*args, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
        if submission is not None:
            command += ["--submission", str(submission)]
        _, output = pytest_in(cwd, command)
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report:\n{output}")
        result = SuiteRun(output=output[-4000:])
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
    code, output = pytest_in(cwd, [*args, "--collect-only", "-q", "-p", "no:cacheprovider"])
    if code != 0:
        raise RuntimeError(f"pytest could not collect:\n{output}")
    return {line for line in output.splitlines() if "::" in line}
