"""GitHub Classroom: what the grading step emits, decoded and summed as the autograding reporter does.

The reporter (education/autograding-grading-reporter) is JavaScript and needs GitHub; its
rules are replayed here, each one from its source file: ``main.js`` reads ``<RUNNER>_RESULTS``
for each of its ``runners``, base64, JSON, and fails the job on any ``fail``;
``notify-classroom.js`` sums every test's ``score`` of the runners with a ``max_score``;
``aggregate-results.js`` shows ``passed / tests * max_score`` per runner.
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import classroom
from grader.rubric import Rubric

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "submissions"
MAX_ARG_STRLEN = 131072  # Linux: the longest one environment string may be


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(classroom.workflow(Rubric.load()))


def grading_step(submission: Path, folder: Path) -> tuple[dict[str, str], dict]:
    """Run the workflow's grading command; the step outputs it appended to $GITHUB_OUTPUT, and results.json."""
    outputs = folder / "github_output"
    outputs.touch()
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "--single", "--out",
                          str(folder / "graded"), "--format", "classroom", "--no-report", "--quiet", "--jobs", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "GITHUB_OUTPUT": str(outputs)})
    assert run.returncode == 0, run.stderr
    lines = outputs.read_text().splitlines()
    results = json.loads((folder / "graded" / submission.stem / "results.json").read_text())
    return dict(line.split("=", 1) for line in lines), results


def reporter_environment(workflow: dict, outputs: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The reporter step's ``runners`` and the environment the workflow gives it, with ``steps.grade.outputs.X``
    replaced by what the grading step emitted."""
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    reporter = next(step for step in steps if "autograding-grading-reporter" in step.get("uses", ""))
    env = {}
    for name, expression in reporter["env"].items():
        output = expression.strip("${} ").removeprefix("steps.grade.outputs.")
        env[name] = outputs[output]
    return reporter["with"]["runners"].split(","), env


def decoded(runners: list[str], env: dict[str, str]) -> list[tuple[str, dict]]:
    """main.js's parseRunnerResults."""
    return [(runner, json.loads(base64.b64decode(env[f"{runner.strip().upper()}_RESULTS"]))) for runner in runners]


@pytest.fixture(scope="module", params=["scaling_alpha", "correct"])
def emitted(request, workflow, tmp_path_factory):
    outputs, results = grading_step(EXAMPLES / f"{request.param}.py", tmp_path_factory.mktemp(request.param))
    runners, env = reporter_environment(workflow, outputs)
    return request.param, decoded(runners, env), env, results


def test_the_workflow_is_the_one_classroom_reads(workflow):
    assert workflow["name"] == "Autograding Tests"  # notify-classroom.js looks for this check run
    job = workflow["jobs"]["run-autograding-tests"]
    assert workflow["permissions"]["checks"] == "write"
    grade = next(step for step in job["steps"] if step.get("id") == "grade")
    assert "--format classroom" in grade["run"]
    runners, _ = reporter_environment(workflow, {name: "" for name in classroom.runner_names(Rubric.load())})
    assert runners == classroom.runner_names(Rubric.load())


def test_classroom_gets_the_graders_score(emitted):
    """notify-classroom.js: the sum of every test's score, of runners with a max_score, out of their max_scores."""
    _, documents, _, results = emitted
    total = maximum = 0.0
    for _, document in documents:
        if not document.get("max_score"):
            continue
        maximum += document["max_score"]
        for test in document["tests"]:
            total += test["score"]
    assert total == pytest.approx(results["score"], abs=0.01)
    assert maximum == pytest.approx(Rubric.load().total)


def test_the_log_table_agrees_with_classroom(emitted):
    """aggregate-results.js: passed / tests * max_score per runner, which one runner per weight keeps exact."""
    _, documents, _, _ = emitted
    for runner, document in documents:
        passed = sum(test["status"] == "pass" for test in document["tests"])
        shown = passed / len(document["tests"]) * document["max_score"]
        assert shown == pytest.approx(sum(test["score"] for test in document["tests"]), abs=1e-9), runner
        assert len({test["score"] for test in document["tests"] if test["status"] == "pass"}) <= 1, runner


def test_a_failed_test_fails_the_job_and_says_why(emitted):
    """main.js fails the job when a runner's status is "fail"; console-results.js prints each failure's message."""
    name, documents, _, results = emitted
    failed = {t["name"] for t in results["tests"] if t["status"] == "failed" and t["max_score"] > 0}
    assert (name == "correct") == (not failed)
    for _, document in documents:
        assert document["version"] == 1 and document["status"] in ("pass", "fail")
        assert document["status"] == ("fail" if any(t["status"] == "fail" for t in document["tests"]) else "pass")
        for test in document["tests"]:
            assert set(test) >= {"name", "status", "score", "message", "filename", "line_no", "execution_time"}
            assert (test["name"] in failed) == (test["status"] == "fail")
            assert bool(test["message"]) == (test["status"] == "fail")


def test_each_runner_fits_in_one_environment_string(emitted):
    _, _, env, _ = emitted
    for name, value in env.items():
        assert len(f"{name}={value}".encode()) < MAX_ARG_STRLEN


def test_long_messages_are_shortened_to_fit():
    document = {"version": 1, "status": "fail", "max_score": 10, "tests": [
        {"name": f"t{i}", "status": "fail", "score": 0, "message": "x" * 100_000} for i in range(20)]}
    fitted = classroom.fitted(document)
    assert len(f"LORA_LAYER_RESULTS={classroom.encode(fitted)}".encode()) < MAX_ARG_STRLEN
    assert all(test["message"].startswith("xxxx") for test in fitted["tests"])

