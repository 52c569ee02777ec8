"""GitHub Classroom: what the grading step emits, decoded and summed as the autograding reporter does.

The reporter (classroom-resources/autograding-grading-reporter@v1) is JavaScript and needs
GitHub; its rules are replayed here, each one from its source file (``src/`` at the tag v1):
``main.js`` reads ``<RUNNER>_RESULTS`` for each of its ``runners``, base64, JSON, fails the
job on any ``fail``, and blames its input when that does not match ``RUNNERS_PATTERN``;
``notify-classroom.js`` adds every test's ``score`` of the runners with a ``max_score`` in
JavaScript floats and posts ``Points X/Y``; ``console-results.js`` prints a test's message
only when its status is ``error``; ``helpers/test-helpers.js`` (``getTestScore``) shows
``passed / tests * max_score`` per runner in the log's table.
"""

import base64
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.assignments.pack import find
from grader.grading.rubric import Rubric
from grader.layout import ROOT
from grader.platforms import classroom

from ..warm_grader import grader

LORA_BERT = find("lora-bert")

EXAMPLES = LORA_BERT.examples
MAX_ARG_STRLEN = 131072  # Linux: the longest one environment string may be
RUNNERS_PATTERN = re.compile(r"^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$")  # main.js, in its catch


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(classroom.workflow(Rubric.load(), find()))


def grading_step(submission: Path, folder: Path) -> tuple[dict[str, str], dict]:
    """Run the workflow's grading command; the step outputs it appended to $GITHUB_OUTPUT, and results.json."""
    outputs = folder / "github_output"
    outputs.touch()
    run = grader("grade", submission, "--single", "--out", folder / "graded", "--format", "classroom", "--no-report",
                 "--quiet", "--jobs", "1", env={**os.environ, "GITHUB_OUTPUT": str(outputs)})
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


def console_results(documents: list[tuple[str, dict]]) -> str:
    """console-results.js: what the job's log shows of each test."""
    lines = []
    for _, document in documents:
        for test in document["tests"]:
            if test["status"] == "pass":
                lines.append(f"✅ {test['name']}")
            elif test["status"] == "error":
                lines.append(f"Error: {test['message'] or f'Failed to run test {test[chr(39)]}'}")
            else:
                lines.append(f"❌ {test['name']}")
    return "\n".join(lines)


def points_line(documents: list[tuple[str, dict]]) -> str:
    """notify-classroom.js: ``Points ${totalPoints}/${maxPoints}``, JavaScript's numbers printed as JavaScript
    prints them (a whole float without its ``.0``)."""
    total = maximum = 0.0
    for _, document in documents:
        if document.get("max_score"):
            maximum += document["max_score"]
            for test in document["tests"]:
                total += test["score"]
    shown = [repr(int(x)) if float(x).is_integer() else repr(float(x)) for x in (total, maximum)]
    return f"Points {shown[0]}/{shown[1]}"


@pytest.fixture(scope="module", params=["merge_without_scaling", "correct", "nothing_frozen"])
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


def test_classroom_gets_the_graders_score_as_whole_points(emitted):
    """notify-classroom.js: the sum of every test's score, of runners with a max_score, out of their max_scores;
    whole numbers, so that JavaScript's float sum prints the grade rounded and nothing else."""
    _, documents, _, results = emitted
    assert points_line(documents) == f"Points {math.floor(results['score'] + 0.5)}/{Rubric.load().total:g}"
    for _, document in documents:
        assert isinstance(document["max_score"], int)
        assert all(isinstance(test["score"], int) for test in document["tests"])


def test_the_points_line_of_the_examples(emitted):
    name, documents, _, _ = emitted
    assert points_line(documents) == {"correct": "Points 100/100", "nothing_frozen": "Points 87/100",
                                      "merge_without_scaling": "Points 93/100"}[name]


def test_the_log_table_agrees_with_classroom_within_a_point(emitted):
    """getTestScore: passed / tests * max_score per runner; the runner's whole points are that, rounded up or down."""
    _, documents, _, _ = emitted
    for runner, document in documents:
        passed = sum(test["status"] == "pass" for test in document["tests"])
        shown = passed / len(document["tests"]) * document["max_score"]
        assert abs(shown - sum(test["score"] for test in document["tests"])) < 1, runner
        assert all(test["score"] == 0 for test in document["tests"] if test["status"] != "pass"), runner


def test_a_failed_test_fails_the_job_and_the_log_says_which_and_why(emitted):
    """main.js fails the job when a runner's status is "fail"; console-results.js prints the message of an error."""
    name, documents, _, results = emitted
    failed = {t["name"]: t for t in results["tests"] if t["status"] == "failed" and t["max_score"] > 0}
    assert (name == "correct") == (not failed)
    log = console_results(documents)
    for _, document in documents:
        assert document["version"] == 1 and document["status"] in ("pass", "fail")
        assert document["status"] == ("fail" if any(t["status"] != "pass" for t in document["tests"]) else "pass")
        for test in document["tests"]:
            assert set(test) >= {"name", "status", "score", "message", "filename", "line_no", "execution_time"}
            assert (test["name"] in failed) == (test["status"] == "error")
    for test in failed.values():
        assert f"Error: ❌ {test['name']}\n" in log
        if test["visibility"] == "visible":  # the rule the student broke, as the grader wrote it
            assert f"❌ {test['name']}\n{test['output'][:200]}" in log


def test_hidden_tests_say_only_that_they_are_hidden(emitted):
    name, documents, env, results = emitted
    hidden = [t for t in results["tests"] if t["status"] == "failed" and t["visibility"] != "visible"]
    assert bool(hidden) == (name == "merge_without_scaling")  # the examples' one hidden failure, so this can fail
    log = console_results(documents)
    for test in hidden:
        assert f"Error: ❌ {test['name']}\n{classroom.HIDDEN_MESSAGE}" in log
        first_line = test["output"].splitlines()[0]
        assert all(first_line not in base64.b64decode(value).decode() for value in env.values())


def test_runner_names_pass_the_reporters_check(workflow):
    runners, _ = reporter_environment(workflow, {name: "" for name in classroom.runner_names(Rubric.load())})
    assert RUNNERS_PATTERN.match(",".join(runners))


def test_whole_points_sum_to_the_grade_rounded_half_up():
    assert classroom.apportion([10 / 3, 10 / 3, 10 / 3], 10) == [4, 3, 3]
    assert classroom.apportion([2.5, 2.5], 5) == [3, 2]
    assert classroom.apportion([0.0, 6.5, 0.0], 7) == [0, 7, 0]  # a failed test never gets a point
    assert classroom.rounded(86.5) == 87 and classroom.rounded(86.49) == 86


def test_a_repository_without_the_module_gets_zero_points_and_the_reason(workflow, tmp_path):
    """The grading step as the workflow writes it, run by bash in the layout of its checkouts: with neither
    lora_bert.py nor the notebook, it still ends well and the reporter gets 0 points with the reason."""
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    grade = next(step for step in steps if step.get("id") == "grade")
    reporter = next(step for step in steps if "autograding-grading-reporter" in step.get("uses", ""))
    assert reporter.get("if") == "always()"  # it runs even when the grading step failed
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "README.md").write_text("my repository\n")
    shutil.copytree(ROOT / "grader", tmp_path / "grader" / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("reference", "tests", "tiny_models", "data"):
        shutil.copytree(ROOT / part, tmp_path / "grader" / part, ignore=shutil.ignore_patterns("__pycache__"))
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    outputs.touch()
    python = Path(sys.executable).parent
    run = subprocess.run(["bash", "-e", "-c", grade["run"]], cwd=tmp_path / grade["working-directory"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PATH": f"{python}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(outputs),
                              "GITHUB_STEP_SUMMARY": str(summary)})
    assert run.returncode == 0, run.stderr
    runners, env = reporter_environment(workflow, dict(line.split("=", 1) for line in outputs.read_text().split()))
    documents = decoded(runners, env)
    assert points_line(documents) == f"Points 0/{Rubric.load().total:g}"
    assert {document["status"] for _, document in documents} == {"error"}
    assert "no module" in console_results(documents) or "lora_bert" in console_results(documents)
    assert "lora_bert" in summary.read_text()


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


def test_shortened_messages_keep_the_name_and_the_error_at_the_end():
    document = {"version": 1, "status": "fail", "max_score": 10, "tests": [
        {"name": f"t{i}", "status": "error", "score": 0, "message": f"❌ t{i}\n" + "x" * 100_000 + "ValueError: why"}
        for i in range(20)]}
    for test in classroom.fitted(document)["tests"]:
        assert test["message"].startswith(f"❌ {test['name']}\n") and test["message"].endswith("ValueError: why")
