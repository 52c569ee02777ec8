"""What a graded class did, test by test: the figures of the class report.

Read from each submission's ``results.json`` (the files grades.csv is made from), so the
report and grades.csv never disagree. The statistics are those of classical item
analysis: a test's pass rate (its difficulty) and its discrimination, the point-biserial
correlation between passing it and the rest of the score (the total without the test's
own points, so a heavy test does not correlate with itself).
"""

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading.outcome import Outcome
from grader.grading.result import RESULTS, GradeResult, ResultError
from grader.grading.rubric import part_of
from grader.grading.scoring import EXTRA_CREDIT

REASONS_KEPT = 5  # per test; the CSV keeps them all
REASON_CHARS = 160


@dataclass
class Test:
    name: str
    part: str
    points: float
    passed: int
    taken: int
    discrimination: float | None  # None where it is undefined: everyone passed, or everyone failed
    reasons: list[tuple[str, int]]  # the grouped failure reasons, most common first

    @property
    def pass_rate(self) -> float:
        return self.passed / self.taken if self.taken else 0.0

    @property
    def points_lost(self) -> float:
        return (self.taken - self.passed) * self.points


@dataclass
class Part:
    name: str
    points: float  # per submission
    tests: list[Test] = field(default_factory=list)

    @property
    def points_lost(self) -> float:
        return sum(test.points_lost for test in self.tests)

    @property
    def mean_earned(self) -> float:
        taken = max((test.taken for test in self.tests), default=0)
        return max(self.points - self.points_lost / taken, 0.0) if taken else 0.0


def load(out: Path) -> tuple[list[GradeResult], list[str]]:
    """Every graded submission under ``out`` (``out/NAME/results.json``), by name; and the unreadable ones."""
    students, unreadable = [], []
    for path in sorted(out.glob(f"*/{RESULTS}")):
        try:
            students.append(GradeResult.load(path.parent))
        except ResultError as error:
            unreadable.append(str(error))
    return students, unreadable


def distribution(scores: list[float]) -> dict[str, float]:
    """Count, mean, median, quartiles (inclusive, as spreadsheets compute them), lowest and highest."""
    if not scores:
        return {"count": 0}
    q1, median, q3 = statistics.quantiles(scores, n=4, method="inclusive") if len(scores) > 1 else scores * 3
    return {"count": len(scores), "mean": statistics.fmean(scores), "median": median, "q1": q1, "q3": q3,
            "min": min(scores), "max": max(scores)}


def point_biserial(passed: list[bool], rest: list[float]) -> float | None:
    """Pearson's correlation of a 0/1 variable with a score, which is the point-biserial; None when either is
    constant (a test everybody passed says nothing about who is strong)."""
    try:
        return statistics.correlation([float(p) for p in passed], rest)
    except statistics.StatisticsError:
        return None


EXCEPTION = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b:?(.*)$")
NORMALIZE = (
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
    (re.compile(r"`[^`]*`"), "`…`"),
    (re.compile(r"\b[A-Za-z_]\w*(?:\.\w+)+"), "NAME"),  # dotted names: modules, parameters, files
    (re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"), "#"),
    (re.compile(r"NAME(?:, NAME)+(?:, …)?"), "NAMES"),
    (re.compile(r"\s+"), " "),
)


def reason(output: str) -> str:
    """A failure's reason with what varies between students stripped (numbers, names, quoted text), so the same
    mistake made thirty times is one reason: the suite's ``expected:`` and ``found:`` lines, else the exception
    raised, else the first line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    found = next((line for line in lines if line.startswith("found:")), None)
    expected = next((line for line in lines if line.startswith("expected:")), None)
    raised = [match for line in lines if (match := EXCEPTION.match(line))]
    if found:
        text = f"{expected}; {found}" if expected else found
    elif raised:
        name, message = raised[-1].groups()
        text = f"{name.rpartition('.')[2]}: {message.strip()}" if message.strip() else name.rpartition(".")[2]
    else:
        text = lines[0] if lines else "no message"
    for pattern, replacement in NORMALIZE:
        text = pattern.sub(replacement, text)
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


def analyse(students: list[GradeResult], parts: dict[str, str]) -> list[Part]:
    """Parts with the most points lost class-wide first; in each, the tests passed least first. The extra credit of
    a rubric's [extra] is no test of the suite: it is left out."""
    tests = [student.by_name for student in students]
    names = sorted({name for by_name in tests for name in by_name if name != EXTRA_CREDIT})
    grouped: dict[str, Part] = {}
    for name in names:
        taken = [(student, by_name[name]) for student, by_name in zip(students, tests, strict=True)
                 if name in by_name]
        passed = [entry.status == "passed" for _, entry in taken]
        rest = [student.score - entry.score for student, entry in taken]
        points = max(entry.max_score for _, entry in taken)
        reasons = Counter(reason(entry.output) for _, entry in taken if entry.status != "passed")
        test = Test(name, part_of(name, parts), points, sum(passed), len(taken), point_biserial(passed, rest),
                    reasons.most_common())
        part = grouped.setdefault(test.part, Part(test.part, 0.0))
        part.points += points
        part.tests.append(test)
    for part in grouped.values():
        part.tests.sort(key=lambda test: (test.pass_rate, -test.points, test.name))
    order = list(dict.fromkeys(parts.values()))
    return sorted(grouped.values(), key=lambda part: (-round(part.points_lost, 6),
                                                      order.index(part.name) if part.name in order else len(order)))


def part_points(student: GradeResult, parts: dict[str, str]) -> dict[str, float]:
    """What a student earned in each part."""
    earned: dict[str, float] = {}
    for test in student.tests:
        if test.name == EXTRA_CREDIT:
            continue
        part = part_of(test.name, parts)
        earned[part] = earned.get(part, 0.0) + test.score
    return earned


def problems(students: list[GradeResult]) -> list[tuple[GradeResult, str]]:
    """Submissions whose run went wrong as a whole: stopped by a limit, not importable, cells that raised,
    a lost worker, a process that ended early, no module: what staff should look at by hand, with the limit
    that stopped a run as the option that sets it."""
    return [(student, student.note + (f" (the limit: {student.limit})" if student.limit else ""))
            for student in students if student.outcome is not Outcome.GRADED]
