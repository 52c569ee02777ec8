"""Turn what the test process reported into points, in the grader's own process.

The expected tests come from a trusted collection, not from the submission's run: a
test the run never reported earns nothing, and the reason says why (the run was
stopped, or its process ended).
"""

from dataclasses import dataclass

from grader.grading.outcome import Stop
from grader.grading.rubric import Rubric
from grader.run.listener import CollectedTest
from grader.run.testrun import Limits, Run

EXTRA_CREDIT = "adapter (extra credit)"  # the test a rubric's [extra] adds for the adapter's held-out score


@dataclass
class TestScore:
    __test__ = False  # a record, not a pytest test class

    test_id: str
    hidden: bool
    status: str  # passed or failed
    score: float
    max_score: float
    output: str

    @property
    def name(self) -> str:
        """``test_merge.py::test_x[bert-tiny]``: the id without the suite's folder (a parameter may hold a ``/``)."""
        path, colons, rest = self.test_id.partition("::")
        return path.rpartition("/")[2] + colons + rest


def explain(message: str, limits: Limits) -> str:
    if "Timeout" in message and "Failed" in message:
        return f"timed out: this test ran longer than {limits.test_timeout:g} s\n\n{message}"
    if "MemoryError" in message or "can't allocate memory" in message:
        return f"out of memory: the submission ran out of memory in this test\n\n{message}"
    return message


def missing_reason(test_id: str, run: Run, limits: Limits) -> str:
    """Why a test has no report: it was running when the process ended, or it never started."""
    running = test_id in run.started
    if run.stopped == Stop.TIMED_OUT:
        return (f"timed out: the submission's time limit ({limits.timeout:g} s) ran out during this test"
                if running else "not run: the submission's time limit ran out before this test")
    if run.stopped == Stop.CPU_TIME:
        return (f"CPU time: the submission's processes used more than {limits.cpu_seconds:g} s of CPU time "
                "during this test" if running else "not run: the submission's CPU time ran out before this test")
    if run.stopped == Stop.OUT_OF_MEMORY:
        return (f"out of memory: the submission's processes used more than {limits.memory_mb} MB during this test"
                if running else "not run: the submission was stopped for using too much memory before this test")
    if run.stopped == Stop.DISK_FULL:
        return (f"disk full: the submission's files reached the cap ({run.limit}) during this test"
                if running else "not run: the submission's files filled the disk it is given before this test")
    if running:
        return (f"the test process ended during this test (exit status {run.exit_code}): "
                "the submission called os._exit(), pytest.exit() or crashed")
    return "not run: the test process had ended before this test (os._exit(), pytest.exit() or a crash)"


def score_run(expected: list[CollectedTest], run: Run, rubric: Rubric, limits: Limits) -> list[TestScore]:
    """One score per expected test. A test skipped at run time earns nothing: only the submission's
    code could have skipped it (the CUDA tests are not expected on the CPU)."""
    shares = rubric.max_scores([test["id"] for test in expected])
    scores = []
    for test in expected:
        report = run.reports.get(test["id"])
        if report is None:
            status, output = "failed", missing_reason(test["id"], run, limits)
        elif report.outcome == "skipped":
            status, output = "failed", f"skipped during grading, which earns nothing:\n\n{report.message}"
        elif report.outcome == "failed":
            status, output = "failed", explain(report.message, limits)
            if report.subject_lost and run.stopped == Stop.OUT_OF_MEMORY:  # killed by the control group's cap
                output = (f"out of memory: the submission's process was killed for using more than "
                          f"{limits.memory_mb} MB during this test\n\n{output}")
        else:
            status, output = "passed", ""
        maximum = shares[test["id"]]
        scores.append(TestScore(test["id"], test["hidden"], status,
                                maximum if status == "passed" else 0.0, maximum, output))
    return scores
