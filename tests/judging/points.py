"""The points a student's run of the suite earns, by the grader's own rubric, and the table that shows them.

The student bundle carries ``tests/points.json``, written by ``lora-grader release``
from the grader's rubric and its collection of the whole suite: each public test's
points and the total of the hidden ones. Where that file is absent (this repository,
a grading workspace) nothing is shown: the grader scores in its own process.
"""

import ast
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

POINTS_FILE = Path(__file__).resolve().parent.parent / "points.json"


@dataclass
class Points:
    tests: dict[str, float]  # public test id -> its points
    parts: dict[str, str]  # test file -> the part of the assignment it checks
    hidden: float  # points held by the hidden tests
    total: float

    @classmethod
    def load(cls, path: Path = POINTS_FILE) -> "Points | None":
        if not path.is_file():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(document["tests"], document["parts"], document["hidden"], document["total"])

    def part_of(self, test_id: str) -> str:
        """As ``part_title`` names it (the grader's ``rubric.part_of`` falls back alike)."""
        file = test_id.partition("::")[0].rpartition("/")[2]
        return self.parts.get(file, file.removeprefix("test_").removesuffix(".py"))


@functools.cache
def part_title(test_file: Path) -> str:
    """The part of the assignment a test file checks: its docstring's ``LoRALayer:``, else its name."""
    title = (ast.get_docstring(ast.parse(test_file.read_text(encoding="utf-8"))) or "").partition(":")[0]
    return title if title.isidentifier() else test_file.stem.removeprefix("test_")


@dataclass
class Tally:
    """What each test of a run did, as the grader counts it: only a test that passed earns its points."""

    passed: dict[str, bool] = field(default_factory=dict)

    def record(self, test_id: str, passed: bool) -> None:
        self.passed[test_id] = self.passed.get(test_id, True) and passed

    def record_report(self, report) -> None:
        """A phase's report: setup and call must pass; a teardown only counts when it fails."""
        if report.when != "teardown" or report.failed:
            self.record(report.nodeid, report.passed)

    def rows(self, points: Points) -> list[tuple[str, float, float]]:
        """(part, earned, available) for each part with a test in this run, in the rubric's order."""
        earned, available = {}, {}
        for test_id, worth in points.tests.items():
            if test_id in self.passed:
                part = points.part_of(test_id)
                available[part] = available.get(part, 0.0) + worth
                earned[part] = earned.get(part, 0.0) + (worth if self.passed[test_id] else 0.0)
        order = list(dict.fromkeys(points.parts.values()))
        return sorted(((part, earned[part], available[part]) for part in available if available[part] > 0),
                      key=lambda row: order.index(row[0]) if row[0] in order else len(order))


def table(tally: Tally, points: Points) -> list[str]:
    """The lines students read at the end of a run."""
    rows = tally.rows(points)
    width = max([len(part) for part, _, _ in rows] + [len("public tests")])
    lines = [f"{'part':<{width}}  points", *(f"{part:<{width}}  {got:5.1f} / {of:5.1f}" for part, got, of in rows)]
    got, of = sum(row[1] for row in rows), sum(row[2] for row in rows)
    lines.append(f"{'public tests':<{width}}  {got:5.1f} / {of:5.1f}")
    public = sum(points.tests.values())
    if of < public - 1e-9:
        lines.append(f"(this run chose some tests; all public tests hold {public:.1f} points)")
    lines.append(f"The hidden tests hold the other {points.hidden:.1f} of the {points.total:g} points: "
                 "they check the same rules and are run when your submission is graded.")
    return lines
