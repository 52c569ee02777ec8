"""Beside each results.json (Gradescope's format, always written): the file the chosen platform reads."""

import json
import os
from pathlib import Path

from grader.assignments.pack import Pack
from grader.grading.outputs import write_atomic
from grader.grading.result import GradeResult
from grader.grading.rubric import Rubric, part_titles
from grader.platforms import classroom, classroom50, classroom50_result, prairielearn

FORMATS = ("gradescope", "classroom", "classroom50", "prairielearn")


def write(platform: str, results: dict[str, GradeResult], out: Path, rubric: Rubric, assignment: Pack) -> None:
    """For GitHub Classroom or Classroom 50 grading one submission in a workflow step, its outputs too
    (``$GITHUB_OUTPUT``)."""
    parts = part_titles(rubric, assignment.suite) if platform in ("prairielearn", "classroom50") else {}
    for name, graded in results.items():
        if platform == "classroom":
            runners = classroom.runners(graded, rubric)
            write_atomic(out / name / classroom.RESULTS, json.dumps(runners, indent=1) + "\n")
            if os.environ.get("GITHUB_OUTPUT") and len(results) == 1:
                with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as github_output:
                    github_output.write(classroom.step_outputs(runners))
        elif platform == "classroom50":
            points = classroom50.result(graded, parts, dict(os.environ))
            classroom50_result.write(out / name, points, classroom50.release_body(graded, points))
            if len(results) == 1:
                classroom50_result.announce(points)
        elif platform == "prairielearn":
            document = prairielearn.results(graded, parts)
            write_atomic(out / name / prairielearn.RESULTS, json.dumps(document, indent=1) + "\n")
