"""Points per test: a rubric maps groups of tests (a test file, or one test) to points.

A pack's spec holds its default rubric (its ``[points]`` table); ``grade --rubric FILE`` takes
another file with that table, and optionally ``[extra]``: extra credit for the student's adapter
(``adapter = [[0.80, 2], [0.85, 5]]``, the points of the highest held-out score reached), off
unless a rubric asks for it. A rubric is checked against the suite when it is loaded: a
section, file or test that the suite does not have is an error naming the closest ones it does, since a typo would
otherwise silently change every student's total.
"""

import ast
import difflib
import importlib.util
import tomllib
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from grader import layout
from grader.assignments.pack import Pack, find

SECTIONS = ("points", "extra")
EXTRA_KEYS = ("adapter",)


class RubricError(ValueError):
    """A rubric file that cannot be used."""


@dataclass
class Rubric:
    points: dict[str, float]  # group -> points
    adapter_points: tuple[tuple[float, float], ...] = ()  # [extra] adapter: (held-out score at least, extra points)

    @classmethod
    def of_pack(cls, pack: Pack) -> "Rubric":
        """The pack's default rubric, its spec's ``[points]``."""
        return cls.checked(pack.points, pack.suite, pack.spec_file)

    @classmethod
    def load(cls, path: Path | None = None, suite: Path | None = None) -> "Rubric":
        """A rubric file, ``[points]`` alone, for the suite in ``suite`` (the default pack's); no file: the default
        pack's own rubric."""
        if path is None:
            return cls.of_pack(find())
        suite = suite or find().suite
        try:
            with open(path, "rb") as f:
                document = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise RubricError(f"{path}: not a rubric ({error})") from None
        unknown = [name for name in document if name not in SECTIONS]
        if unknown or "points" not in document:
            raise RubricError(f"{path}: {unknown_names('section', unknown or ['(none)'], SECTIONS)}; "
                              "a rubric has the section [points], and [extra] where it gives extra credit")
        return replace(cls.checked(document["points"], suite, path),
                       adapter_points=thresholds(document.get("extra", {}), path))

    @classmethod
    def checked(cls, points: dict, suite: Path, source: Path) -> "Rubric":
        if not all(isinstance(value, (int, float)) and value >= 0 for value in points.values()):
            raise RubricError(f"{source}: points must be numbers of at least 0")
        known = suite_groups(suite)
        if unknown := [group for group in points if group not in known]:
            raise RubricError(f"{source}: {unknown_names('group', unknown, known)}")
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

    def adapter_extra(self, score: float | None) -> float:
        """The extra points an adapter's held-out score earns: those of the highest threshold it reaches."""
        return max((points for at_least, points in self.adapter_points if score is not None and score >= at_least),
                   default=0.0)

    def score(self, passed: dict[str, bool]) -> float:
        """Points earned by the tests that passed, of the rubric's total."""
        shares = self.max_scores(list(passed))
        return sum(share for test_id, share in shares.items() if passed[test_id])


def thresholds(extra: dict, source: Path) -> tuple[tuple[float, float], ...]:
    """``[extra] adapter = [[score, points], ...]``: each score in [0, 1], given once, each points above 0."""
    if not isinstance(extra, dict) or (unknown := [key for key in extra if key not in EXTRA_KEYS]):
        raise RubricError(f"{source}: [extra]: {unknown_names('key', unknown or ['(not a table)'], EXTRA_KEYS)}")
    pairs = extra.get("adapter", [])
    numbers = (int, float)
    if not (isinstance(pairs, list) and all(isinstance(pair, list) and len(pair) == 2
                                            and all(isinstance(v, numbers) and not isinstance(v, bool) for v in pair)
                                            and 0 <= pair[0] <= 1 and pair[1] > 0 for pair in pairs)):
        raise RubricError(f"{source}: [extra] adapter is a list of [held-out score from 0 to 1, extra points above "
                          "0] pairs, such as [[0.80, 2], [0.85, 5]]")
    if len({pair[0] for pair in pairs}) != len(pairs):
        raise RubricError(f"{source}: [extra] adapter gives one score two thresholds")
    return tuple(sorted((float(score), float(points)) for score, points in pairs))


def suite_groups(suite: Path) -> set[str]:
    """Every group a rubric may name: each test file of the suite, and each test function in it."""
    groups = set()
    for file in sorted(suite.glob("test_*.py")):
        groups.add(file.name)
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                groups.add(f"{file.name}::{node.name}")
    return groups


def unknown_names(kind: str, names: list[str], known) -> str:
    """``unknown group 'test_lora_layr.py' (did you mean 'test_lora_layer.py'?)``, one per name."""
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.6)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        parts.append(f"unknown {kind} {name!r}{hint}")
    return "; ".join(parts)


def part_of(test_name: str, parts: dict[str, str]) -> str:
    """The part a test checks (``parts``: ``part_titles``); a file missing from them falls back as the suite's own
    ``points.part_title`` does (the suite ships to students without the grader, so it keeps its own copy)."""
    file = test_name.partition("::")[0].rpartition("/")[2]
    return parts.get(file, file.removeprefix("test_").removesuffix(".py"))


def part_titles(rubric: Rubric, suite: Path | None = None) -> dict[str, str]:
    """Each test file's part of the assignment (``test_merge.py`` -> ``merge_lora``) in the rubric's order,
    named as the suite's own tests/judging/points.py names them for students."""
    suite = suite or find().suite
    spec = importlib.util.spec_from_file_location("suite_points", layout.JUDGING / "points.py")
    module = importlib.util.module_from_spec(spec)  # the suite is files, not a package of this project
    spec.loader.exec_module(module)
    order = list(rubric.points)
    files = sorted(suite.glob("test_*.py"), key=lambda f: order.index(f.name) if f.name in order else len(order))
    return {file.name: module.part_title(file) for file in files}
