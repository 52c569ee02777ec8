"""``lora-grader gradebook``: Canvas's import CSV from its own export, checked against its documented rules."""

import csv
import json
from pathlib import Path

import pytest

from grader import cli
from grader.platforms import gradebook

EXPORT = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 1 (101),LoRA (202),Current Score,Final Score\n"
    "    Points Possible,,,,,10,100,(read only),(read only)\n"
    '"Lovelace, Ada",1001,S-1,ada,LEC 01,9,,90,90\n'
    '"Babbage, Charles",1002,S-2,charles,LEC 01,7,,70,70\n'
    '"Hopper, Grace",1003,S-3,grace,LEC 02,8,80,80,80\n'
    '"Turing, Alan",1004,S-4,alan,LEC 02,10,,100,100\n'
)


def cleared(export: Path, imported: list[list[str]], column: str) -> list[str]:
    """Canvas's GradebookImporter: a blank cell where the gradebook holds a grade is a change to no grade. The
    students whose grade the import would clear."""
    with open(export, newline="", encoding="utf-8-sig") as f:
        before = {row["Student"]: row.get(column, "") for row in csv.DictReader(f)}
    header, *rows = imported
    at = header.index(column)
    return [row[0] for row in rows if not row[at].strip() and before.get(row[0], "").strip()]


def graded_folder(folder: Path, scores: dict[str, float]) -> Path:
    for name, score in scores.items():
        (folder / name).mkdir(parents=True)
        results = {"score": score, "tests": [], "extra_data": {"max_score": 100.0, "note": ""}}
        (folder / name / "results.json").write_text(json.dumps(results))
    return folder


def make(tmp_path: Path, *options: str) -> tuple[list[list[str]], str]:
    """ada by login, charles by SIS User ID (in other case), alan's through the roster (a GitHub name); grace handed in
    nothing, and has 80 in the export from an earlier import; zed is nobody in the course."""
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "roster.csv").write_text("submission,SIS Login ID\nturing-gh,alan\n")
    graded = graded_folder(tmp_path / "graded", {"ada": 93.3, "s-2": 75.5, "turing-gh": 100.0, "zed": 50.0})
    output = tmp_path / "import.csv"
    assert cli.main(["gradebook", str(graded), "--canvas", str(tmp_path / "export.csv"), "--roster",
                     str(tmp_path / "roster.csv"), "--assignment", "LoRA (202)", "--output", str(output),
                     *options]) == 0
    with open(output, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def made(tmp_path, capsys):
    return make(tmp_path), capsys.readouterr().out


def test_the_identity_columns_come_first_as_canvas_exports_them(made):
    rows, _ = made
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "LoRA (202)"]


def test_the_points_possible_row_is_second(made):
    rows, _ = made
    assert rows[1][0].strip() == "Points Possible" and rows[1][-1] == "100"


def test_each_student_gets_the_score_of_their_submission(made):
    rows, _ = made
    scores = {row[0]: row[-1] for row in rows[2:]}
    assert scores == {"Lovelace, Ada": "93.3", "Babbage, Charles": "75.5", "Hopper, Grace": "80", "Turing, Alan": "100"}
    assert rows[2][:5] == ["Lovelace, Ada", "1001", "S-1", "ada", "LEC 01"]


def test_read_only_and_other_assignments_columns_are_left_out(made):
    """Canvas overwrites what a column holds: only ours travels, so Homework 1 stays as it is."""
    rows, _ = made
    assert not any("Homework" in cell or "Score" in cell for cell in rows[0])


def test_students_without_a_submission_and_submissions_without_a_student_are_named(made):
    _, out = made
    assert "1 students without a submission (their cell in the export kept): Hopper, Grace" in out
    assert "1 submissions without a student (left out): zed" in out


def test_an_export_that_is_not_canvas_is_refused(tmp_path, capsys):
    (tmp_path / "export.csv").write_text("name,score\nada,1\n")
    graded = graded_folder(tmp_path / "graded", {"ada": 1.0})
    assert cli.main(["gradebook", str(graded), "--canvas", str(tmp_path / "export.csv")]) == 2
    assert "not a Canvas gradebook export" in capsys.readouterr().err


def test_a_second_submission_for_one_student_is_not_silently_kept(tmp_path):
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    book = gradebook.build({"ada": 90.0, "S-1": 10.0}, 100, tmp_path / "export.csv", "LoRA")
    assert book.unmatched == ["ada (a second submission for Lovelace, Ada; the first was kept)"]


@pytest.mark.parametrize("option, cell, said", [([], "80", "their cell in the export kept"),
                                                (["--missing", "zero"], "0", "given 0"),
                                                (["--missing", "excused"], "EX", "excused (EX)")])
def test_no_grade_in_the_export_is_cleared_by_the_import(tmp_path, capsys, option, cell, said):
    rows = make(tmp_path, *option)
    assert cleared(tmp_path / "export.csv", rows, "LoRA (202)") == []
    assert {row[0]: row[-1] for row in rows[2:]}["Hopper, Grace"] == cell
    assert f"1 students without a submission ({said}): Hopper, Grace" in capsys.readouterr().out


def test_the_importers_rule_catches_a_blank_over_a_grade(tmp_path):
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "LoRA (202)"]
    assert cleared(tmp_path / "export.csv", [header, ["Hopper, Grace", "1003", "S-3", "grace", "LEC 02", ""]],
                   "LoRA (202)") == ["Hopper, Grace"]
