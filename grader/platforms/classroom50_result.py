"""Classroom 50's ``result.json`` (``classroom50/result/v1``), in the standard library alone.

The generated ``autograder.py`` loads this file by its path when the grader cannot run at all (its
environment failed to install, the grader crashed), to write a result all the same: so it imports
nothing of the grader and nothing outside the standard library. ``classroom50.py`` builds the
graded result with the same functions.

The rules, from foundation50/classroom50 at commit 0c499034f247 (``schemas/result-v1.schema.json``
and ``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py``):

- the top level has exactly the schema's keys (``additionalProperties: false``); ``schema``,
  ``classroom``, ``assignment``, ``assignment_type``, ``owner``, ``submission``, ``commit``,
  ``release``, ``review``, ``datetime``, ``score``, ``max-score`` and ``tests`` are required;
- ``classroom`` and ``assignment`` must equal the runner's ``CLASSROOM`` and ``ASSIGNMENT``
  (runner.py, ``validate_result``); ``submission`` starts with ``submit/``; ``commit``,
  ``release``, ``review`` and ``datetime`` are non-empty strings, ``datetime`` as
  ``YYYY-MM-DDTHH:MM:SSZ`` (the schema's pattern);
- ``score`` and ``max-score`` are integers (never booleans), at least 0, ``score <= max-score``;
  each test has a non-empty ``test-name``, a boolean ``passed``, integer ``score <= max-score``, and
  may carry more fields, which the runner and the collector keep (``additionalProperties: true``);
- the runner overwrites ``owner``, ``assignment_type``, ``datetime``, ``graded_at`` and
  ``submitted_by`` before validating (``finalize_result``): the values written here only make the
  file valid on its own, as when it is graded outside a workflow;
- ``status=`` and ``summary=`` in ``$GITHUB_OUTPUT`` are optional: the runner derives them when
  absent (``derive_status_and_summary``: ``success`` when every test passed, else ``failure``;
  an exit other than 0 is an infrastructure error, recorded 0/0 with no Release).
"""

import datetime
import json
import os
import tempfile
from pathlib import Path

SCHEMA = "classroom50/result/v1"
RESULT = "result.json"
RELEASE_BODY = "release-body.md"
# GitHub refuses a Release body over 125,000 characters ("body is too long (maximum is 125000 characters)");
# the runner appends its note of the files it removed (runner.py, append_removed_files_note): room is left for it.
RELEASE_BODY_CHARS = 100_000
TYPES = ("individual", "group")


def identity(env: dict, assignment: str, owner: str) -> dict:
    """The result's fields that say whose submission it is, from the variables runner.py sets for an autograder
    (``run_entrypoint``: CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, OWNER, ASSIGNMENT_TYPE, COMMIT_URL, RELEASE_URL,
    REVIEW_URL); outside a workflow, values that say so (``assignment`` and ``owner``: the pack's and the
    submission's names)."""
    commit = env.get("COMMIT_URL") or "local"
    kind = env.get("ASSIGNMENT_TYPE")
    return {
        "classroom": env.get("CLASSROOM") or "local",
        "assignment": env.get("ASSIGNMENT") or assignment,
        "assignment_type": kind if kind in TYPES else "individual",
        "owner": env.get("OWNER") or env.get("USERNAME") or env.get("GITHUB_ACTOR") or owner,
        "submission": env.get("SUBMISSION_TAG") or f"submit/local-{owner}",
        "commit": commit,
        "release": env.get("RELEASE_URL") or commit,
        "review": env.get("REVIEW_URL") or commit,
    }


def document(who: dict, tests: list[dict]) -> dict:
    """The whole result: ``who`` (``identity``) and ``tests``, whose integer points it adds up."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"schema": SCHEMA, **who, "datetime": now, "graded_at": now,
            "score": sum(test["score"] for test in tests), "max-score": sum(test["max-score"] for test in tests),
            "tests": tests}


def status_lines(result: dict) -> str:
    """What the autograder appends to ``$GITHUB_OUTPUT``: ``status=success`` when every test passed, else
    ``failure``, and a one-line summary."""
    tests = result["tests"]
    passed = sum(test["passed"] for test in tests)
    status = "success" if tests and passed == len(tests) else "failure"
    return (f"status={status}\nsummary=lora-grader: {result['score']}/{result['max-score']} "
            f"({passed} of {len(tests)} parts passed)\n")


def write(folder: Path, result: dict, release_body: str) -> None:
    """``result.json`` and ``release-body.md`` into ``folder``, each written whole or not at all."""
    for name, text in ((RESULT, json.dumps(result, indent=1) + "\n"), (RELEASE_BODY, release_body)):
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, Path(folder) / name)


def announce(result: dict) -> None:
    """The status lines, where a workflow step's outputs go (``$GITHUB_OUTPUT``), if it is one."""
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as github_output:
            github_output.write(status_lines(result))


def failure(env: dict, assignment: str, owner: str, max_score: int, reason: str) -> tuple[dict, str]:
    """The result of a submission the grader could not grade, and its Release body: 0 of ``max_score``, the
    reason in the test's ``message`` and in the body."""
    test = {"test-name": "The grader could grade this submission", "passed": False, "score": 0,
            "max-score": max_score, "message": reason}
    result = document(identity(env, assignment, owner), [test])
    body = (f"# lora-grader: 0 / {max_score}\n\nThe grader could not grade this submission; please tell the course "
            f"staff. What it said:\n\n```\n{reason[-RELEASE_BODY_CHARS // 2:]}\n```\n")
    return result, body
