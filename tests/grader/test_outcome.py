"""How a run went is decided once, recorded as ``extra_data.outcome``, and every writer decides on it, never on the
summary's display words; results written before outcomes were recorded are read by their note in one place."""

import json

import pytest

from grader.analysis import item_analysis
from grader.grading.outcome import Outcome, Stop
from grader.grading.result import GradeResult
from grader.grading.rubric import Rubric
from grader.platforms import classroom, prairielearn


def graded(outcome: str | None, note: str, limit: str = "") -> GradeResult:
    """A results.json as an older or a current grader wrote it, read back."""
    extra = {"max_score": 100.0, "note": note, "limit": limit, **({"outcome": outcome} if outcome else {})}
    return GradeResult.from_json("a", json.dumps({
        "score": 0.0, "output": "", "execution_time": 1.0, "extra_data": extra,
        "tests": [{"name": "test_merge.py::test_a", "score": 0.0, "max_score": 10.0, "status": "failed",
                   "output": "expected 1", "visibility": "visible"}]}))


@pytest.mark.parametrize("note, outcome", [("no module", Outcome.NO_MODULE), ("import failed", Outcome.IMPORT_FAILED),
                                           ("worker lost", Outcome.WORKER_LOST), ("disk full", Outcome.STOPPED),
                                           ("process ended early", Outcome.ENDED_EARLY),
                                           ("2 cell(s) raised", Outcome.CELLS_RAISED),
                                           ("1 file(s) left out", Outcome.GRADED), ("", Outcome.GRADED)])
def test_older_results_are_read_by_their_note(note, outcome):
    assert Outcome.of({"note": note}) is outcome


def test_the_writers_decide_on_the_outcome_not_on_the_words():
    """A note that reads like another outcome changes nothing: the recorded outcome decides."""
    looks_missing = graded(Outcome.GRADED.value, "no module, says the note")
    runners = classroom.runners(looks_missing, Rubric.load())
    assert {document["status"] for document in runners.values()} == {"fail"}
    assert prairielearn.results(looks_missing, {})["gradable"] is True
    missing = graded(Outcome.NO_MODULE.value, "")
    assert {document["status"] for document in classroom.runners(missing, Rubric.load()).values()} == {"error"}
    assert prairielearn.results(missing, {})["gradable"] is False
    student = graded(Outcome.STOPPED.value, "", "--disk 64 MB")
    assert item_analysis.problems([student]) == [(student, " (the limit: --disk 64 MB)")]
    assert graded(None, "no module").outcome is Outcome.NO_MODULE  # read back by its note


def test_stops_are_stored_as_the_words_results_json_always_had():
    assert [stop.value for stop in Stop] == ["timed out", "CPU time", "out of memory", "disk full"]
    assert not Outcome.IMPORT_FAILED.gradable and Outcome.STOPPED.gradable
