"""Scores into an LMS gradebook: the CSV that Canvas's gradebook import takes, made from its own export.

Canvas's rules for a gradebook import, as documented (Canvas Instructor Guide, "How do I
import grades in the Gradebook?", and Ohio State's "Import a CSV File to Carmen Grades",
teaching.resources.osu.edu, which restates them):

- "The CSV file you import ... has four required components: Student Name (last name,
  first name) OR Student ID OR Student SIS User ID ...; SIS Login ID ...; Section ...;
  Assignment Name." Canvas's own export names these columns ``Student``, ``ID``, ``SIS
  User ID``, ``SIS Login ID`` and ``Section``, in that order, and we write them as exported.
- An assignment's column is named as in the export, ``Name (id)``: Canvas matches it to the
  assignment by that id. "New assignment columns in the Gradebook generate new
  assignments": a column named without an id creates one.
- The export's second row holds ``Points Possible``; we keep it, with the rubric's total
  under our column, so a new assignment is created with those points.
- "If a score already exists for a student in the Gradebook, the uploaded grade in the CSV
  will overwrite the grade", and a blank cell is no exception: Canvas's importer
  (``GradebookImporter``) compares each cell with the gradebook and posts a blank over a
  grade as a change to no grade, so confirming the import would clear it. A student
  without a submission therefore never gets a blank where the export has a grade:
  ``MISSING`` decides, by an explicit option, between keeping the export's cell (the
  default), 0, and ``EX`` (excused).

The students are the export's rows; each graded submission is matched to one of them by
its name (the results folder's), which is one of the student's ID, SIS User ID or SIS
Login ID, or, through ``--roster``, a roster row that gives the submission's name in a
``submission`` column and the student's ID, SIS User ID or SIS Login ID in another.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading.outputs import csv_text
from grader.grading.submissions import safe_name

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
KEYS = ("ID", "SIS User ID", "SIS Login ID")  # what a submission or a roster row may name a student by
POINTS_POSSIBLE = "Points Possible"
MISSING = {"keep": "their cell in the export kept", "zero": "given 0", "excused": "excused (EX)"}


class GradebookError(ValueError):
    """An export or roster that cannot be used."""


@dataclass
class Gradebook:
    header: list[str]  # the identity columns and ours
    rows: list[list[str]]  # the Points Possible row first
    unsubmitted: list[str] = field(default_factory=list)  # students without a submission
    missing: str = "keep"  # what they got: a key of MISSING
    unmatched: list[str] = field(default_factory=list)  # submissions without a student

    def csv(self) -> str:
        return csv_text(self.header, self.rows)


def read_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's export starts with a BOM
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GradebookError(f"{path}: {error}") from None


def key(text: str) -> str:
    """How a name is compared: as the grader names results folders, ignoring case."""
    return safe_name(text.strip()).casefold()


def students_by_key(export: list[dict]) -> dict[str, dict]:
    found = {}
    for row in export:
        for column in KEYS:
            if row.get(column, "").strip():
                found.setdefault(key(row[column]), row)
    return found


def roster_map(roster: list[dict], path: Path) -> dict[str, str]:
    """submission name -> the student's key, from a roster with a ``submission`` column and an identity one."""
    if not roster or "submission" not in roster[0]:
        raise GradebookError(f"{path}: a roster needs a 'submission' column (the name each submission has)")
    columns = [column for column in KEYS if column in roster[0]]
    if not columns:
        raise GradebookError(f"{path}: a roster needs one of the columns {', '.join(KEYS)} to name the student by")
    return {key(row["submission"]): key(next(row[c] for c in columns if row.get(c, "").strip()))
            for row in roster if row["submission"].strip() and any(row.get(c, "").strip() for c in columns)}


def build(scores: dict[str, float], points: float, export_path: Path, assignment: str,
          roster_path: Path | None = None, missing: str = "keep") -> Gradebook:
    """The import CSV: every student of the export, with the score of the submission matched to them; those
    without one get what ``missing`` says (a key of ``MISSING``), never a blank over a grade."""
    export = read_csv(export_path)
    if not export or any(column not in export[0] for column in IDENTITY):
        raise GradebookError(f"{export_path}: not a Canvas gradebook export (needs the columns "
                             f"{', '.join(IDENTITY)})")
    students = students_by_key([row for row in export if not is_points_row(row)])
    roster = roster_map(read_csv(roster_path), roster_path) if roster_path else {}
    matched: dict[int, float] = {}
    unmatched = []
    for name, score in sorted(scores.items()):
        student = students.get(roster.get(key(name), key(name)))
        if student is None:
            unmatched.append(name)
        elif id(student) in matched:
            unmatched.append(f"{name} (a second submission for {student['Student']}; the first was kept)")
        else:
            matched[id(student)] = score
    rows = [["    " + POINTS_POSSIBLE, "", "", "", "", f"{points:g}"]]
    unsubmitted = []
    for row in export:
        if is_points_row(row):
            continue
        score = matched.get(id(row))
        if score is None:
            unsubmitted.append(row["Student"])
            cell = {"keep": row.get(assignment, ""), "zero": "0", "excused": "EX"}[missing]
        else:
            cell = f"{score:g}"
        rows.append([row[column] for column in IDENTITY] + [cell])
    return Gradebook([*IDENTITY, assignment], rows, unsubmitted=unsubmitted, missing=missing, unmatched=unmatched)


def is_points_row(row: dict) -> bool:
    return row.get("Student", "").strip() == POINTS_POSSIBLE
