"""PrairieLearn: the course files of ``lora-grader prairielearn``, and its entrypoint run on a simulated /grade."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader import cli
from grader.assignments.pack import find
from grader.grading.result import GradeResult
from grader.platforms import prairielearn

LORA_BERT = find("lora-bert")

EXAMPLES = LORA_BERT.examples
SCHEMA = json.loads(Path(__file__).with_name("prairielearn_results.schema.json").read_text())
MAX_BYTES = 1_000_000  # "this file should be limited to 1 MB"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("course") / "lora"
    assert cli.main(["prairielearn", str(out)]) == 0
    return out


def grade_job(course: Path, student: dict[str, bytes], root: Path, python: str = sys.executable) -> dict:
    """Run the question's entrypoint as PrairieLearn would: the student's files in /grade/student; its results."""
    (root / "student").mkdir(parents=True)
    for name, content in student.items():
        (root / "student" / name).write_bytes(content)
    info = json.loads((course / "questions" / prairielearn.QUESTION / "info.json").read_text())
    entrypoint = info["externalGradingOptions"]["entrypoint"]
    local = course / "serverFilesCourse" / entrypoint.removeprefix("/grade/serverFilesCourse/")
    run = subprocess.run(["bash", str(local)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "GRADE_ROOT": str(root), "PYTHON": python})
    assert run.returncode == 0, run.stderr
    text = (root / "results" / "results.json").read_text()
    assert len(text.encode()) < MAX_BYTES
    document = json.loads(text)
    jsonschema.validate(document, SCHEMA)
    return document


def test_info_json_follows_the_documented_options(course):
    info = json.loads((course / "questions" / prairielearn.QUESTION / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["enabled"] is True and options["image"]
    assert 0 < options["timeout"] <= 600
    assert options["enableNetworking"] is False
    assert options["entrypoint"].startswith("/grade/serverFilesCourse/")
    for shared in options["serverFilesCourse"]:
        assert (course / "serverFilesCourse" / shared).is_dir()
    assert (course / "serverFilesCourse" / prairielearn.FOLDER / "tests" / "assignment" / "conftest.py").is_file()
    assert not list(course.rglob(LORA_BERT.reference.name)), "the reference solution stays out of the course files"
    assert (course / "serverFilesCourse" / "lora_grader" / "reference" / "lora-bert" / "assignment.toml").is_file()
    assert "file-names=\"lora_bert.py\"" in (course / "questions" / prairielearn.QUESTION / "question.html").read_text()


def test_a_graded_submission_scores_its_share(course, tmp_path):
    document = grade_job(course, {"lora_bert.py": (EXAMPLES / "merge_without_scaling.py").read_bytes()}, tmp_path)
    assert document["gradable"] is True
    assert sum(t["points"] for t in document["tests"]) / sum(t["max_points"] for t in document["tests"]) == \
        pytest.approx(document["score"], abs=1e-4)
    assert document["score"] == pytest.approx(0.93, abs=0.001)
    failed = [t for t in document["tests"] if t["points"] < t["max_points"]]
    assert failed and all(t["message"] for t in failed)
    assert {t["description"] for t in document["tests"]} >= {"LoRALayer", "merge_lora"}


def test_a_submission_that_does_not_import_is_not_gradable(course, tmp_path):
    document = grade_job(course, {"lora_bert.py": b"def LoRALayer(:\n"}, tmp_path)
    assert document["gradable"] is False
    assert "SyntaxError" in " ".join(document["format_errors"])


def test_a_grader_that_fails_costs_no_attempt(course, tmp_path):
    """The grader's own failure (here: its interpreter refuses to run it) still leaves a not-gradable result."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\n[ "$1" = "-m" ] && exit 3\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    document = grade_job(course, {"lora_bert.py": b"x = 1\n"}, tmp_path / "grade", python=str(python))
    assert document["gradable"] is False and document["format_errors"]


def test_results_are_shortened_to_fit_one_megabyte():
    graded = {"score": 0.0, "output": "o" * 3_000_000 + "ImportError: the end", "extra_data": {"max_score": 100,
              "note": ""}, "tests": [{"name": f"test_merge.py::t{i}", "score": 0, "max_score": 1, "status": "failed",
                                      "visibility": "visible", "output": "x" * 100_000 + "the rule"}
                                     for i in range(400)]}
    document = prairielearn.results(GradeResult.from_json("big", json.dumps(graded)), {})
    assert len(json.dumps(document).encode()) < MAX_BYTES
    jsonschema.validate(document, SCHEMA)
    assert document["output"].endswith("ImportError: the end")  # both ends kept
    assert all(test["message"].endswith("the rule") for test in document["tests"])
