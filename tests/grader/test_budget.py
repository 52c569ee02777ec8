"""Every file for one student stays under 1 MiB whatever the submission's messages say, and the shortening is fair:
a huge message does not cost the short ones their text."""

import json

from grader.grading import budget, outputs
from grader.grading.outcome import Outcome
from grader.grading.result import GradeResult
from grader.grading.scoring import TestScore

WORST = "😀" * 400_000 + "\ud800"  # 12 bytes a character in JSON, and a lone surrogate UTF-8 cannot write


def grade(summary: list[str], tests: list[TestScore]) -> GradeResult:
    return GradeResult("student", 0.0, 100.0, tests, 1.0, summary, Outcome.GRADED,
                       {"device": "cpu", "torch": "2", "transformers": "5", "note": ""})


def failed(name: str, output: str) -> TestScore:
    return TestScore(f"test_part.py::{name}", False, "failed", 0.0, 1.0, output)


def test_the_worst_texts_leave_every_file_under_a_mebibyte():
    summary, tests = budget.fit([WORST] * 25, [failed(f"test_{i}", WORST) for i in range(150)])
    result = grade(summary, tests)
    for text in (result.to_json(), outputs.feedback_md(result)):
        assert len(text.encode("utf-8")) < budget.FILE_BYTES
    assert all(len(test.output) > 300 for test in tests)  # each still says something: a fair share each
    assert json.loads(result.to_json())["tests"][0]["output"].startswith("😀")


def test_short_texts_are_kept_whole_beside_a_huge_one():
    summary, tests = budget.fit(["Importing failed.", WORST], [failed("test_a", "expected 1, found 2"),
                                                              failed("test_b", WORST)])
    assert summary[0] == "Importing failed." and tests[0].output == "expected 1, found 2"
    assert "characters left out" in tests[1].output and tests[1].output.endswith("?")  # its end, encodable
    assert len(summary[1]) <= budget.SUMMARY_CHARS


def test_fair_shares_give_the_short_ones_their_length():
    assert budget.fair_shares([10, 1000, 20], 100) == [10, 70, 20]
    assert budget.fair_shares([], 100) == []
    assert sum(budget.fair_shares([500] * 7, 1000)) <= 1000


def test_a_cut_keeps_both_ends_within_its_size():
    text = "start " + "x" * 10_000 + " the exception"
    shortened = budget.cut(text, 300)
    assert len(shortened) <= 300 and shortened.startswith("start") and shortened.endswith("the exception")
    assert budget.cut(text, 10) == text[:10] and budget.cut("short", 10) == "short"
