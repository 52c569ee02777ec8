"""One submission's grade as the grader holds it, and its own file, results.json.

``batch.grade_one`` builds a ``GradeResult``; every writer takes one (feedback.md, grades.csv,
the summary table, GitHub Classroom's runners, PrairieLearn's results, the class report) and
turns it into its platform's format at that edge. results.json is Gradescope's results format
with the grading context in ``extra_data``: it is written by ``to_json`` and read back by
``from_json``, here and nowhere else, so that a rerun, a class report or a gradebook made
from a graded folder sees exactly what the grader decided.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading.outcome import Outcome
from grader.grading.scoring import TestScore

RESULTS = "results.json"
HIDDEN_VISIBILITY = "after_published"


class ResultError(ValueError):
    """A results.json that cannot be read as one."""


@dataclass
class GradeResult:
    name: str  # the submission's results folder
    score: float
    max_score: float
    tests: list[TestScore]
    seconds: float
    summary: list[str]  # the sentences about the submission as a whole, for the student
    outcome: Outcome
    context: dict = field(default_factory=dict)  # extra_data: where and how it was graded, what decided it

    @property
    def note(self) -> str:
        """A few words for tables: display only."""
        return self.context.get("note", "")

    @property
    def limit(self) -> str:
        """The option of the limit that stopped the run, '' if none did."""
        return self.context.get("limit", "")

    @property
    def by_name(self) -> dict[str, TestScore]:
        return {test.name: test for test in self.tests}

    def to_json(self) -> str:
        document = {
            "score": self.score,
            "execution_time": round(self.seconds, 1),
            "output": "\n\n".join(self.summary),
            "output_format": "md",
            "test_output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [{
                "name": test.name,
                "score": test.score,
                "max_score": test.max_score,
                "status": test.status,
                "output": test.output if test.status != "passed" else "",
                "visibility": HIDDEN_VISIBILITY if test.hidden else "visible",
            } for test in self.tests],
            "extra_data": {**self.context, "max_score": self.max_score, "outcome": self.outcome.value},
        }
        if self.context.get("leaderboard"):  # a scored adapter's: Gradescope's leaderboard entries
            document["leaderboard"] = self.context["leaderboard"]
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, name: str, text: str) -> "GradeResult":
        try:
            document = json.loads(text)
            context = dict(document["extra_data"])
            return cls(
                name=name, score=float(document["score"]), max_score=float(context["max_score"]),
                tests=[TestScore(test["name"], test.get("visibility", "visible") != "visible", test["status"],
                                 float(test["score"]), float(test["max_score"]), test.get("output", ""))
                       for test in document["tests"]],
                seconds=float(document.get("execution_time", 0.0)),
                summary=[document["output"]] if document.get("output") else [],
                outcome=Outcome.of(context), context=context)
        except (ValueError, KeyError, TypeError) as error:
            raise ResultError(f"{name}: not the grader's results ({error!r})") from None

    @classmethod
    def load(cls, folder: Path) -> "GradeResult":
        """``folder/results.json``, named after its folder; ResultError if it is missing or unreadable."""
        try:
            text = (folder / RESULTS).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ResultError(f"{folder / RESULTS}: {error}") from None
        return cls.from_json(folder.name, text)
