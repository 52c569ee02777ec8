"""Points from outcomes, in the grader's own process: shares, missing tests, skips, the examples' freshness."""


import pytest

from grader.grading.rubric import Rubric, RubricError
from grader.grading.scoring import score_run
from grader.layout import ROOT
from grader.run.testrun import Limits, Run, TestReport

from .. import module_file

EXPECTED = [{"id": f"tests/assignment/test_a.py::test_{i}", "hidden": False} for i in range(4)]
RUBRIC = Rubric({"test_a.py": 8})


def test_a_group_shares_its_points_equally():
    run = Run(reports={t["id"]: TestReport("passed") for t in EXPECTED[:3]})
    scores = score_run(EXPECTED, run, RUBRIC, Limits())
    assert [s.max_score for s in scores] == [2, 2, 2, 2]
    assert sum(s.score for s in scores) == 6


def test_a_specific_test_takes_its_own_points_first():
    rubric = Rubric({"test_a.py": 6, "test_a.py::test_0": 4})
    shares = rubric.max_scores([t["id"] for t in EXPECTED])
    assert shares[EXPECTED[0]["id"]] == 4 and shares[EXPECTED[1]["id"]] == 2


def test_a_test_skipped_by_the_submission_earns_nothing_and_frees_no_points():
    run = Run(reports={EXPECTED[0]["id"]: TestReport("passed"),
                       **{t["id"]: TestReport("skipped", "Skipped: not today") for t in EXPECTED[1:]}})
    scores = score_run(EXPECTED, run, RUBRIC, Limits())
    assert sum(s.score for s in scores) == 2
    assert "skipped during grading" in scores[1].output


@pytest.mark.parametrize("stopped, running, expected", [
    ("timed out", True, "timed out: the submission's time limit (600 s) ran out during this test"),
    ("timed out", False, "not run: the submission's time limit ran out before this test"),
    ("out of memory", True, "out of memory: the submission's processes used more than 4096 MB"),
    (None, True, "the test process ended during this test (exit status 0)"),
    (None, False, "not run: the test process had ended before this test"),
])
def test_a_test_without_a_report_fails_and_says_why(stopped, running, expected):
    run = Run(started=[EXPECTED[0]["id"]] if running else [], stopped=stopped, exit_code=0)
    output = score_run(EXPECTED[:1], run, RUBRIC, Limits())[0].output
    assert output.startswith(expected), output


def test_a_per_test_timeout_is_named():
    run = Run(reports={EXPECTED[0]["id"]: TestReport("failed", "Failed: Timeout (>5.0s) from pytest-timeout.")})
    assert score_run(EXPECTED[:1], run, RUBRIC, Limits(test_timeout=5))[0].output.startswith("timed out")


def test_the_default_rubric_totals_100_and_bad_ones_are_refused(tmp_path):
    assert Rubric.load().total == 100
    bad = tmp_path / "rubric.toml"
    bad.write_text('[points]\n"test_a.py" = -1\n')
    with pytest.raises(RubricError):
        Rubric.load(bad)


def test_the_generated_examples_are_up_to_date():
    module = module_file.load("make_examples", ROOT / "examples" / "make_examples.py")
    stale = [path for path, text in module.render().items()
             if (ROOT / "examples" / path).read_text(encoding="utf-8") != text]
    assert not stale, f"run python examples/make_examples.py: {stale} differ from what it writes"
