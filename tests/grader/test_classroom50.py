"""Classroom 50: ``grade --format classroom50`` and the autograder folder ``lora-grader classroom50`` writes.

What Classroom 50's runner does with an autograder (foundation50/classroom50 at 0c499034f247,
``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py``), carried over as facts: ``run_entrypoint`` runs
``[sys.executable, autograder.py]`` with no arguments, in the student's checkout, with the variables of
``RUNNER_ENV``; an exit other than 0 is an infrastructure error; ``finalize_result`` reads ``./result.json``,
which ``validate_result`` (``violations`` here, with ``classroom50_result.schema.json``) must accept.
"""

import ast
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.assignments.pack import available, find
from grader.authoring import release
from grader.grading.result import RESULTS
from grader.layout import ROOT
from grader.platforms import classroom, classroom50, classroom50_result

from ..warm_grader import grader

LORA_BERT = find("lora-bert")
SCHEMA = json.loads(Path(__file__).with_name("classroom50_result.schema.json").read_text())
RUNNER_ENV = {"CLASSROOM": "ml-2026", "ASSIGNMENT": "lora", "OWNER": "alice", "USERNAME": "alice",
              "ASSIGNMENT_TYPE": "individual", "SUBMISSION_TAG": "submit/2026-12-07T10-00-00Z-abc1234",
              "COMMIT_URL": "https://github.com/ml-2026/lora-alice/commit/abc1234",
              "RELEASE_URL": "https://github.com/ml-2026/lora-alice/releases/tag/submit%2F2026",
              "REVIEW_URL": "https://github.com/ml-2026/lora-alice/compare/000...abc1234",
              "GITHUB_REPOSITORY": "ml-2026/lora-alice", "GITHUB_ACTOR": "alice", "HF_HUB_OFFLINE": "1"}
# merge_lora leaving DistilBERT's lin1 unmerged: no public test wraps lin1, the hidden one does
MERGE_SKIPS_LIN1 = ("if isinstance(module, LinearLoRA)]", "if isinstance(module, LinearLoRA) and 'lin1' not in name]")
HIDDEN_FAILURE = "merge_lora after training: no LinearLoRA is left"  # the hidden test's words on that merge


def hidden_tests(assignment) -> list[str]:
    """The names of the pack's hidden test functions."""
    return [node.name for path in assignment.suite.glob("test_*.py") for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and release.is_hidden(node)]


def stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def violations(result: dict, env: dict) -> list[str]:
    """What runner.py's ``validate_result`` and the schema refuse in ``result``, one sentence each."""
    found = [error.message for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(result)]
    if found:
        return found
    if (result["classroom"], result["assignment"]) != (env["CLASSROOM"], env["ASSIGNMENT"]):
        found.append("classroom and assignment must be the runner's")
    if result["score"] > result["max-score"]:
        found.append("score over max-score")
    found += [f"{test['test-name']}: score over max-score" for test in result["tests"]
              if test["score"] > test["max-score"]]
    if (result["score"], result["max-score"]) != (sum(t["score"] for t in result["tests"]),
                                                   sum(t["max-score"] for t in result["tests"])):
        found.append("score and max-score are not the sums of the tests'")
    return found


def student_readable(folder: Path) -> str:
    """What a student reads: result.json (the gradebook and the log) and release-body.md (the Release)."""
    return "".join((folder / name).read_text() for name in (classroom50_result.RESULT, classroom50_result.RELEASE_BODY))


@pytest.fixture(scope="module")
def staff(tmp_path_factory):
    """The course's own step, the whole pack with its hidden tests, in one batch with ``--format classroom50``:
    a correct submission, a partly wrong one, one whose import fails at length, one failing a hidden test only."""
    folder, out = tmp_path_factory.mktemp("classroom50"), tmp_path_factory.mktemp("classroom50-graded")
    examples = LORA_BERT.examples
    (folder / "correct.py").write_text((examples / "correct.py").read_text())
    (folder / "partly_wrong.py").write_text((examples / "scaling_alpha.py").read_text())
    (folder / "huge_import_error.py").write_text((ROOT / "examples/adversarial/huge_import_error.py").read_text())
    (folder / "hidden_failing.py").write_text(LORA_BERT.reference.read_text().replace(*MERGE_SKIPS_LIN1))
    run = grader("grade", folder, "--out", out, "--format", "classroom50", "--no-report", "--quiet", "--seed", "0",
                 env={**os.environ, **RUNNER_ENV})
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", newline="") as f:
        grades = {row["name"]: float(row["score"]) for row in csv.DictReader(f)}
    return out, grades


@pytest.mark.parametrize("name", ["correct", "partly_wrong", "huge_import_error", "hidden_failing"])
def test_each_result_is_valid_and_its_points_are_the_grade_rounded(staff, name):
    out, grades = staff
    result = json.loads((out / name / classroom50_result.RESULT).read_text())
    assert violations(result, RUNNER_ENV) == []
    assert result["score"] == classroom.rounded(grades[name]) and result["max-score"] == 100
    assert (result["owner"], result["submission"]) == ("alice", RUNNER_ENV["SUBMISSION_TAG"])
    body = (out / name / classroom50_result.RELEASE_BODY).read_text()
    assert body.startswith(f"# lora-grader: {result['score']} / 100")
    assert len(body) <= classroom50_result.RELEASE_BODY_CHARS
    expected = {"correct": (100, True), "partly_wrong": (85, False), "huge_import_error": (0, False),
                "hidden_failing": (None, False)}[name]
    assert expected[0] in (None, result["score"]) and all(t["passed"] for t in result["tests"]) == expected[1]


def test_a_failing_hidden_test_is_counted_never_shown(staff):
    out, grades = staff
    results = json.loads((out / "hidden_failing" / RESULTS).read_text())
    failed = [test for test in results["tests"] if test["status"] == "failed"]
    assert failed and all(test["visibility"] == "after_published" for test in failed)  # the hidden test alone
    assert HIDDEN_FAILURE in failed[0]["output"]  # what would leak
    readable = student_readable(out / "hidden_failing")
    assert HIDDEN_FAILURE not in readable and not any(name in readable for name in hidden_tests(LORA_BERT))
    assert "1 hidden test(s) failed" in readable and grades["hidden_failing"] < 100


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("autograders") / "lora"
    run = grader("classroom50", folder, "--hidden-tests", classroom50.HIDDEN_STAFF)
    assert run.returncode == 0, run.stderr
    return folder


def test_the_public_folder_holds_no_hidden_test_and_no_solution(autograder):
    files = [path.read_text(errors="replace") for path in autograder.rglob("*") if path.is_file()]
    names = hidden_tests(LORA_BERT)
    assert len(names) == 3 and not [name for name in names if any(name in text for text in files)]
    assert not list(autograder.rglob(LORA_BERT.reference.name))
    assert not (autograder / LORA_BERT.adapter["data"]).exists()  # the reviews adapters are scored on
    stripped = ["\n".join(stripped_lines(text)) for text in files]
    solution = [stripped_lines(block)[:3] for block in re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION",
                                                                   LORA_BERT.reference.read_text(), re.DOTALL)]
    openings = ["\n".join(lines) for lines in solution if len(lines) == 3]  # each block's first three lines
    assert len(openings) >= 5 and not [opening for opening in openings if any(opening in text for text in stripped)]
    assert {"autograder.py", "runtime.json", "rubric.toml", "README.md"} <= {p.name for p in autograder.iterdir()}
    assert json.loads((autograder / "runtime.json").read_text())["runs-on"] == "ubuntu-latest"


def test_the_folder_fits_the_runners_fetch_cap(autograder, tmp_path):
    """The runner fetches the folder as a tar.gz of at most 10 MB (``fetch_bundle``, ``MAX_FETCH_BYTES``)."""
    archive = Path(shutil.make_archive(str(tmp_path / "bundle"), "gztar", autograder))
    assert 0 < archive.stat().st_size < 10 * 10**6


def test_a_pack_with_hidden_tests_is_refused_without_a_way_to_grade_them(tmp_path):
    with pytest.raises(classroom50.HiddenTestsError, match=r"3 hidden tests.*public"):
        classroom50.build(tmp_path / "public", LORA_BERT)
    assert not (tmp_path / "public").exists()
    without = next(pack for pack in available() if not hidden_tests(pack))
    classroom50.build(tmp_path / "plain", without)  # nothing hidden: nothing to refuse, no rubric of its own
    assert (tmp_path / "plain" / "autograder.py").is_file() and not (tmp_path / "plain" / "rubric.toml").exists()


def run_as_the_runner(autograder: Path, checkout: Path, **env) -> tuple[dict, str, str]:
    """runner.py's ``run_entrypoint``: no arguments, the checkout as the working folder, the runner's variables;
    the result, the Release body and the status lines, after checking that it exited 0."""
    outputs = checkout.parent / f"{checkout.name}-github-output"
    outputs.touch()
    variables = {**os.environ, **RUNNER_ENV, "CLASSROOM50_BUNDLE_DIR": str(autograder), "GITHUB_OUTPUT": str(outputs),
                 "LORA_GRADER_PYTHON": sys.executable, **env}
    run = subprocess.run([sys.executable, str(autograder / "autograder.py")], cwd=checkout, env=variables,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads((checkout / classroom50_result.RESULT).read_text())
    assert violations(result, RUNNER_ENV) == []
    return result, (checkout / classroom50_result.RELEASE_BODY).read_text(), outputs.read_text()


def test_the_autograder_run_as_the_runner_runs_it_grades_the_checkout(autograder, tmp_path):
    checkout = tmp_path / "lora-alice"
    checkout.mkdir()
    (checkout / "lora_bert.py").write_text((LORA_BERT.examples / "scaling_alpha.py").read_text())
    result, body, status = run_as_the_runner(autograder, checkout)
    maximum = result["max-score"]
    assert maximum < 100 and 0 < result["score"] < maximum  # the public tests' points alone
    assert "status=failure" in status and f"summary=lora-grader: {result['score']}/{maximum}" in status
    assert "scaling" in body and HIDDEN_FAILURE not in body


@pytest.mark.parametrize("case", ["no_module", "no_grader"])
def test_the_autograder_always_leaves_a_result(autograder, tmp_path, case):
    """A checkout without the module, and a grader that cannot start: 0 points and the reason, exit 0."""
    checkout = tmp_path / "lora-alice"
    checkout.mkdir()
    (checkout / "notes.txt").write_text("my homework is in the other repository")
    env = {"LORA_GRADER_PYTHON": str(tmp_path / "no-such-python")} if case == "no_grader" else {}
    result, body, status = run_as_the_runner(autograder, checkout, **env)
    assert result["score"] == 0 and result["max-score"] > 0 and "status=failure" in status
    reason = "no-such-python" if case == "no_grader" else "lora_bert.py"
    assert reason in body and reason in json.dumps(result["tests"])


def test_whole_points_never_exceed_their_part_and_sum_to_the_grade():
    """``whole_points`` on parts of awkward sizes: each score at most its part's maximum, the scores summing to the
    grade rounded and the maxima to the total rounded; where every part is whole, every maximum is that part's."""
    generator = random.Random(0)
    for _ in range(3000):
        maxima = [generator.choice([0.5, 10 / 3, 12.5, 7.25, 20.0, 0.4, 2.0]) for _ in range(generator.randint(1, 9))]
        earned = [value * generator.choice([0, 0.25, 0.5, 0.99, 1]) for value in maxima]
        points = classroom50.whole_points(earned, maxima)
        assert all(0 <= score <= cap for score, cap in points), (maxima, earned, points)
        assert all(score == 0 for (score, _), value in zip(points, earned, strict=True) if value == 0)
        assert sum(score for score, _ in points) == classroom.rounded(sum(earned)), (maxima, earned, points)
        assert sum(cap for _, cap in points) == classroom.rounded(sum(maxima)), (maxima, earned, points)
        if all(value == int(value) for value in maxima):
            assert [cap for _, cap in points] == maxima
