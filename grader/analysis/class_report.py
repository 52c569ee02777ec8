"""The class report: ``report.html`` (one self-contained page), and the same figures for scripts.

Written into a batch's output folder at the end of every ``grade`` run and by
``lora-grader report OUT``:

- ``report.html``: score distribution, points lost per part, every test's pass rate and
  discrimination with its grouped failure reasons, the submissions whose run went wrong,
  and every student; plots embedded as PNG data, a few lines of script to sort tables,
  nothing fetched: it opens from disk.
- ``report.md``: the summary, the parts and the most-failed tests, for a terminal or an email.
- ``report-tests.csv``, ``report-reasons.csv``, ``report-students.csv``: one row per test,
  per (test, reason), per student.
"""

import base64
import io
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from grader.analysis import item_analysis, pages, similarity
from grader.analysis.item_analysis import Part
from grader.grading.outputs import FEEDBACK, csv_text, text_table, write_atomic
from grader.grading.result import GradeResult
from grader.grading.rubric import Rubric, part_titles

HTML = "report.html"
MARKDOWN = "report.md"
TESTS_CSV = "report-tests.csv"
REASONS_CSV = "report-reasons.csv"
STUDENTS_CSV = "report-students.csv"


@dataclass
class ClassReport:
    out: Path
    students: list[GradeResult]
    unreadable: list[str]
    parts: list[Part]
    part_names: list[str]  # in the rubric's order, for the students' columns
    titles: dict[str, str]  # test file -> part
    baseline: float | None = None  # the reference's own adapter's public score (the pack's [adapter] baseline)
    pseudonyms: dict[str, str] = field(default_factory=dict)  # submission -> its student's name on the leaderboard

    @classmethod
    def build(cls, out: Path, rubric: Rubric | None = None, suite: Path | None = None,
              adapter: dict | None = None, pseudonyms: dict[str, str] | None = None) -> "ClassReport":
        """The report of a graded folder; ``rubric`` and ``suite`` (the pack's) name the parts, in order;
        ``adapter``: the pack's ``[adapter]``, whose baseline the leaderboard shows; ``pseudonyms``: names for the
        leaderboard (``adapters.pseudonyms``)."""
        titles = part_titles(rubric or Rubric.load(), suite)
        students, unreadable = item_analysis.load(out)
        parts = item_analysis.analyse(students, titles)
        present = {part.name for part in parts}
        part_names = [name for name in dict.fromkeys(titles.values()) if name in present]
        part_names += sorted(present - set(part_names))
        return cls(out, students, unreadable, parts, part_names, titles, (adapter or {}).get("baseline"),
                   pseudonyms or {})

    @cached_property
    def distribution(self) -> dict[str, float]:
        return item_analysis.distribution([student.score for student in self.students])

    @cached_property
    def problems(self) -> list[tuple[GradeResult, str]]:
        return item_analysis.problems(self.students)

    @cached_property
    def leaderboard(self) -> list[dict]:
        """The students' adapters as ``grade`` scored them (``extra_data.adapter``), best public score first; those
        it could not score last, with why. ``name``: the student's pseudonym where one is given, else the
        submission's; ``submission``: the submission's."""
        rows = [{**student.context["adapter"], "submission": student.name,
                 "name": self.pseudonyms.get(student.name, student.name)}
                for student in self.students if student.context.get("adapter")]
        return sorted(rows, key=lambda row: (row["problem"] is not None, -(row["public"] or 0), row["name"]))

    @property
    def max_score(self) -> float:
        return max((student.max_score for student in self.students), default=0.0)

    @cached_property
    def student_rows(self) -> list[dict]:
        """Each student's score, points per part, note and feedback link: the page's table and the CSV's rows."""
        rows = []
        for student in self.students:
            earned = item_analysis.part_points(student, self.titles)
            rows.append({"name": student.name, "score": student.score, "max_score": student.max_score,
                         "parts": [earned.get(name, 0.0) for name in self.part_names], "note": student.note,
                         "feedback": f"{student.name}/{FEEDBACK}"})
        return rows


def histogram(report: ClassReport):
    """The score histogram: bins of 5 points (of 100) at most, so that a class of 20 still shows a shape. Drawn on
    a Figure of its own, not through pyplot: no display, no global backend, nothing left open."""
    from matplotlib.figure import Figure

    scores = [student.score for student in report.students]
    top = report.max_score or 1.0
    step = max(top / 20, 1e-9)
    bins = [step * i for i in range(21)]
    figure = Figure(figsize=(10, 2.8), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.hist(scores, bins=bins, color="#3b6ea5", edgecolor="white")
    stats = report.distribution
    for value, label, style in ((stats["median"], "median", "-"), (stats["mean"], "mean", "--")):
        axes.axvline(value, color="#c0392b", linestyle=style, linewidth=1.2, label=f"{label} {value:.1f}")
    axes.set_xlim(0, top)
    axes.set_xlabel(f"score (of {top:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="best", framealpha=0.9)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def data_url(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def leaderboard_png(report: ClassReport) -> str:
    """Each scored adapter's public score against the parameters it trains, the reference's as a line."""
    from matplotlib.figure import Figure

    scored = [row for row in report.leaderboard if row["problem"] is None]
    figure = Figure(figsize=(10, 3.2), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.scatter([row["trainable"] for row in scored], [row["public"] for row in scored], color="#3b6ea5")
    points: dict[tuple, list[str]] = {}  # one label for the students on the same point
    for row in scored:
        points.setdefault((row["trainable"], row["public"]), []).append(row["name"])
    for point, names in points.items():
        axes.annotate(", ".join(names), point, textcoords="offset points", xytext=(5, 3), fontsize=8)
    if report.baseline is not None:
        axes.axhline(report.baseline, color="#c0392b", linestyle="--", linewidth=1.2,
                     label=f"the reference's adapter {report.baseline:.3f}")
        axes.legend(loc="best", framealpha=0.9)
    axes.set_xscale("log")
    axes.set_xlabel("parameters the adapter trains")
    axes.set_ylabel(f"{scored[0]['metric'] if scored else 'score'} (public held-out)")
    axes.spines[["top", "right"]].set_visible(False)
    return data_url(figure)


def html(report: ClassReport) -> str:
    stats = report.distribution
    return pages.render(
        "report.html.j2", report=report, stats=stats,
        histogram=data_url(histogram(report)) if report.students else None,
        problems=report.problems, students=report.student_rows, leaderboard=report.leaderboard,
        leaderboard_plot=leaderboard_png(report) if any(row["problem"] is None for row in report.leaderboard) else None,
        similarity=(report.out / similarity.HTML).is_file(), generated=time.strftime("%Y-%m-%d %H:%M"),
        reasons_kept=item_analysis.REASONS_KEPT)


def tests_csv(report: ClassReport) -> str:
    return csv_text(["part", "test", "points", "passed", "submissions", "pass_rate", "points_lost",
                     "discrimination", "top_reason"],
                    [[part.name, test.name, round(test.points, 4), test.passed, test.taken, round(test.pass_rate, 4),
                      round(test.points_lost, 4), "" if test.discrimination is None else round(test.discrimination, 4),
                      test.reasons[0][0] if test.reasons else ""]
                     for part in report.parts for test in part.tests])


def reasons_csv(report: ClassReport) -> str:
    return csv_text(["part", "test", "reason", "submissions"],
                    [[part.name, test.name, text, count]
                     for part in report.parts for test in part.tests for text, count in test.reasons])


def students_csv(report: ClassReport) -> str:
    return csv_text(["name", "score", "max_score", *report.part_names, "note", "feedback"],
                    [[row["name"], row["score"], row["max_score"], *(round(p, 4) for p in row["parts"]),
                      row["note"], row["feedback"]] for row in report.student_rows])


def markdown(report: ClassReport, most_failed: int = 15) -> str:
    stats = report.distribution
    lines = [f"# Class report: {len(report.students)} submissions", ""]
    if report.students:
        lines += [f"Scores (of {report.max_score:g}): mean {stats['mean']:.1f}, median {stats['median']:.1f}, "
                  f"quartiles {stats['q1']:.1f} and {stats['q3']:.1f}, lowest {stats['min']:.1f}, "
                  f"highest {stats['max']:.1f}.", ""]
    rows = [("part", "points", "mean earned", "lost class-wide")]
    rows += [(part.name, f"{part.points:g}", f"{part.mean_earned:.1f}",
              f"{part.points_lost:.1f}") for part in report.parts]
    lines += ["## Points lost per part", "", "```", text_table(rows), "```", ""]
    tests = sorted((test for part in report.parts for test in part.tests), key=lambda t: (t.pass_rate, t.name))
    rows = [("test", "passed", "discrimination", "most common reason")]
    rows += [(test.name, f"{test.passed}/{test.taken}", pages.signed(test.discrimination),
              test.reasons[0][0] if test.reasons else "") for test in tests[:most_failed] if test.reasons]
    lines += ["## Most-failed tests", "", "```", text_table(rows), "```", ""]
    if report.leaderboard:
        rows = [("student", "public", "private", "trained parameters", "not scored because")]
        rows += [(row["name"], "" if row["public"] is None else f"{row['public']:.3f}",
                  "" if row["private"] is None else f"{row['private']:.3f}",
                  "" if row["trainable"] is None else f"{row['trainable']:,}", row["problem"] or "")
                 for row in report.leaderboard]
        baseline = f" (the reference's adapter: {report.baseline:.3f})" if report.baseline is not None else ""
        lines += [f"## Adapters' leaderboard{baseline}", "", "```", text_table(rows), "```", ""]
    if report.problems:
        lines += ["## Submissions to look at", ""] + [f"- {s.name}: {note}" for s, note in report.problems] + [""]
    lines += [f"- unreadable: {line}" for line in report.unreadable]
    return "\n".join(lines).rstrip() + "\n"


def write(out: Path, rubric: Rubric | None = None, suite: Path | None = None,
          adapter: dict | None = None, pseudonyms: dict[str, str] | None = None) -> ClassReport:
    """Every file of the class report, into ``out``; each written whole or not at all."""
    report = ClassReport.build(out, rubric, suite, adapter, pseudonyms)
    save(report)
    return report


def save(report: ClassReport) -> None:
    out = report.out
    for name, text in ((HTML, html(report)), (MARKDOWN, markdown(report)), (TESTS_CSV, tests_csv(report)),
                       (REASONS_CSV, reasons_csv(report)), (STUDENTS_CSV, students_csv(report))):
        write_atomic(out / name, text)
