"""GitHub Classroom: the grading step's outputs that Classroom's autograding reporter reads, and its workflow.

What the reporter (classroom-resources/autograding-grading-reporter@v1, ``src/``, built into
``dist/main.js``) does, and so what this module writes:

- ``main.js``: for each name in its ``runners`` input, it reads the environment variable
  ``<NAME>_RESULTS`` (the name upper-cased), base64-decodes it and parses JSON; any
  runner whose ``status`` is ``"fail"`` fails the job, else any ``"error"``. When that
  fails (an empty output), it blames the input unless it matches
  ``/^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$/``: runner names are letters and digits only, so that
  the real error shows.
- ``notify-classroom.js``: Classroom's points are the sum of every test's ``score`` over
  the runners whose ``max_score`` is not 0, out of the sum of their ``max_score``, added
  in JavaScript floats and posted as the notice ``Points X/Y``. Fractions would show as
  ``99.99999999999987/100``: every score and maximum is a whole number, apportioned by
  largest remainders (``apportion``) so that the runners' maxima sum to the rubric's
  total, a submission's runners to its grade rounded, and a runner's tests to the runner's.
- ``console-results.js``: the log prints a test's ``message`` only when its status is
  ``"error"`` (a ``"fail"`` shows a cross and a name), so a failed test is sent as
  ``"error"``, its message naming it, then the rule it broke; a hidden test's message
  says only that it is hidden (the job's log is the student's to read). The log's table
  (``aggregate-results.js``) gives each runner ``passed / len(tests) * max_score``: one
  runner per rubric group (a test file, or a test the rubric prices apart), whose tests
  share its points equally, keeps it within a point of the runner's score.

Each runner's JSON is ``{"version": 1, "status", "max_score", "tests": [{"name", "status",
"score", "message", "test_code", "filename", "line_no", "execution_time"}]}``, the shape
Classroom's own graders emit. The reporter gets every runner as one environment string,
and Linux refuses to start a process with a string over 128 KiB (MAX_ARG_STRLEN): each
runner's encoded JSON is kept under ``MAX_ENCODED`` by shortening the longest messages.
"""

import base64
import json
import math
import re

from grader.assignments.pack import Pack
from grader.grading.outcome import Outcome
from grader.grading.outputs import shortened
from grader.grading.result import GradeResult
from grader.grading.rubric import Rubric
from grader.grading.scoring import TestScore

VERSION = 1
RESULTS = "classroom.json"  # beside the grader's results.json: each runner's JSON, decoded
MAX_ENCODED = 100_000  # bytes of base64 per runner: under 128 KiB with its variable's name, with room to spare
MESSAGE_CHARS = 2_000  # a failure's message, at most, before any further shortening
STATUS = {"passed": "pass", "failed": "error"}  # console-results.js prints the message of an "error" only
HIDDEN_MESSAGE = "A hidden test: its details are not shown."


def runner_name(group: str) -> str:
    """``test_lora_layer.py`` -> ``loralayer``; ``test_merge.py::test_x`` -> ``mergetestx``: a step output's name,
    letters and digits as the reporter's check of its input wants."""
    name = group.replace(".py", "").removeprefix("test_")
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def apportion(values: list[float], total: int) -> list[int]:
    """Whole numbers, each ``floor`` or ``ceil`` of its value, that sum to ``total`` (largest remainders first;
    ``total`` must lie between the sum of the floors and that of the ceilings, as a rounded sum does)."""
    whole = [math.floor(value + 1e-9) for value in values]
    by_remainder = sorted(range(len(values)), key=lambda i: whole[i] - values[i])
    for i in by_remainder[:max(total - sum(whole), 0)]:
        whole[i] += 1
    return whole


def rounded(value: float) -> int:
    """Half up, as a gradebook rounds (Python's ``round`` takes 86.5 to 86)."""
    return math.floor(value + 0.5 + 1e-9)


def runner_points(rubric: Rubric) -> dict[str, int]:
    """One runner per rubric group that carries points, in the rubric's order: its name -> its max_score, whole
    numbers that sum to the rubric's total rounded."""
    groups = {runner_name(group): points for group, points in rubric.points.items() if points > 0}
    return dict(zip(groups, apportion(list(groups.values()), rounded(sum(groups.values()))), strict=True))


def runner_names(rubric: Rubric) -> list[str]:
    return list(runner_points(rubric))


def encode(document: dict) -> str:
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode("ascii")


def fitted(document: dict) -> dict:
    """The runner's JSON with its longest messages shortened until it encodes to MAX_ENCODED bytes or less."""
    limit = MESSAGE_CHARS
    while len(encode(document)) > MAX_ENCODED and limit > 40:
        for test in document["tests"]:
            if len(test["message"]) > limit:
                test["message"] = shortened(test["message"], limit)
        limit //= 2
    return document


def message(test: TestScore) -> str:
    """What the log prints under "Error:" for a failed test: its name, then why, or that it is hidden."""
    if test.status == "passed":
        return ""
    return f"❌ {test.name}\n{HIDDEN_MESSAGE if test.hidden else shortened(test.output, MESSAGE_CHARS)}"


def runners(result: GradeResult, rubric: Rubric) -> dict[str, dict]:
    """One submission's result as the reporter's runners: name -> its JSON, in the rubric's order."""
    points = runner_points(rubric)
    grouped: dict[str, list[TestScore]] = {name: [] for name in points}
    seconds = result.seconds / max(len(result.tests), 1)
    for test in result.tests:
        group = rubric.group_of(test.name)
        if group is None or not rubric.points[group]:
            continue
        grouped[runner_name(group)].append(test)
    grouped = {name: tests for name, tests in grouped.items() if tests}
    earned = {name: sum(test.score for test in tests) for name, tests in grouped.items()}
    whole = dict(zip(earned, apportion(list(earned.values()), rounded(sum(earned.values()))), strict=True))
    graded = result.outcome is not Outcome.NO_MODULE
    return {name: fitted({
        "version": VERSION,
        "status": ("pass" if all(t.status == "passed" for t in tests) else "fail") if graded else "error",
        "max_score": points[name],
        "tests": [{
            "name": test.name,
            "status": STATUS[test.status],
            "score": score,
            "message": message(test),
            "test_code": f"pytest tests/assignment/{test.name}",
            "filename": f"tests/assignment/{test.name.partition('::')[0]}",
            "line_no": 0,
            "execution_time": f"{seconds:.2f}s",  # the grader times a submission, not each test
        } for test, score in zip(tests, apportion([t.score for t in tests], whole[name]), strict=True)],
    }) for name, tests in grouped.items()}


def step_outputs(documents: dict[str, dict]) -> str:
    """The lines a step appends to ``$GITHUB_OUTPUT``: ``name=base64`` (base64 has no newline to escape)."""
    return "".join(f"{name}={encode(document)}\n" for name, document in documents.items())


WORKFLOW = """\
# GitHub Classroom autograding for {title}, written by `lora-grader release`.
# Classroom reads the points from the reporter's notice on this job ("Points X/Y"): keep the
# workflow's and the job's names. The grader comes from the course's private repository (make it from
# `lora-grader gradescope`'s bundle, which holds no reference solution): set the repository
# variable GRADER_REPOSITORY (owner/name) and the secret GRADER_TOKEN (read access to it).
# A student can edit this file, so whatever it can read (the hidden tests) is not secret.
name: Autograding Tests
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
        with: {{path: submission}}
      - name: Checkout the grader
        uses: actions/checkout@v4
        with:
          repository: ${{{{ vars.GRADER_REPOSITORY }}}}
          token: ${{{{ secrets.GRADER_TOKEN }}}}
          path: grader
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - name: Install the grader
        run: |
          pip install torch --index-url https://download.pytorch.org/whl/cpu
          pip install -e ./grader
      - name: Grade
        id: grade
        working-directory: grader
        # Neither module handed in: the repository is graded as it is, 0 points and the reason, rather than
        # a failed step and no points at all.
        run: |
          module=../submission/{module}.py
          [ -f "$module" ] || module=../submission/{module}.ipynb
          [ -f "$module" ] || module=../submission
          python -m grader grade "$module" --single --out ../graded --format classroom --no-report --quiet --jobs 1 \\
              --assignment {spec}
          cat ../graded/*/feedback.md >> "$GITHUB_STEP_SUMMARY"
      - name: Autograding Reporter
        if: always()
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}
        with:
          runners: {runners}
"""


def workflow(rubric: Rubric, assignment: Pack) -> str:
    """``.github/workflows/classroom.yml`` for the student repository template of ``assignment``: one runner per
    rubric group."""
    names = runner_names(rubric)
    env = "\n".join(f'          {name.upper()}_RESULTS: "${{{{ steps.grade.outputs.{name} }}}}"' for name in names)
    return WORKFLOW.format(env=env, runners=",".join(names), title=assignment.title, module=assignment.module,
                           spec=assignment.spec_in_checkout)
