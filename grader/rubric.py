"""Points per test: a rubric file maps groups of tests (a test file, or one test) to points."""

import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

DEFAULT = Path(__file__).with_name("rubric.toml")


class RubricError(ValueError):
    """A rubric file that cannot be used."""


@dataclass
class Rubric:
    points: dict[str, float]  # group -> points

    @classmethod
    def load(cls, path: Path = DEFAULT) -> "Rubric":
        try:
            with open(path, "rb") as f:
                points = tomllib.load(f)["points"]
        except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
            raise RubricError(f"{path}: not a rubric ({error})") from None
        if not all(isinstance(value, (int, float)) and value >= 0 for value in points.values()):
            raise RubricError(f"{path}: points must be numbers of at least 0")
        return cls(points)

    @property
    def total(self) -> float:
        return sum(self.points.values())

    def group_of(self, test_id: str) -> str | None:
        """``tests/assignment/test_merge.py::test_x[a]`` belongs to ``test_merge.py::test_x`` or ``test_merge.py``."""
        file, _, name = test_id.rpartition("/")[2].partition("::")
        for group in (f"{file}::{name.split('[')[0]}", file):
            if group in self.points:
                return group
        return None

    def max_scores(self, test_ids: list[str]) -> dict[str, float]:
        """Each test's share of its group's points; tests in no group are worth 0."""
        members = defaultdict(list)
        for test_id in test_ids:
            members[self.group_of(test_id)].append(test_id)
        return {test_id: (self.points[group] / len(tests) if group else 0.0)
                for group, tests in members.items() for test_id in tests}

    def score(self, passed: dict[str, bool]) -> float:
        """Points earned by the tests that passed, of the rubric's total."""
        shares = self.max_scores(list(passed))
        return sum(share for test_id, share in shares.items() if passed[test_id])
