"""``python -m grader grade``: scores, the Gradescope format, resuming, determinism, shards and misuse."""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader import cli
from grader.assignments.pack import find
from grader.layout import ROOT

from ..warm_grader import grader

LORA_BERT = find("lora-bert")

SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())


def grade(*args, check=True) -> subprocess.CompletedProcess:
    run = grader("grade", *args, "--quiet")
    if check:
        assert run.returncode == 0, run.stderr
    return run


def results(out: Path, name: str) -> dict:
    return json.loads((out / name / "results.json").read_text())


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    """A class folder: the reference, the template, a zip and a notebook."""
    folder = tmp_path_factory.mktemp("class")
    shutil.copy(LORA_BERT.reference, folder / "alice.py")
    shutil.copy(LORA_BERT.template / "lora_bert.py", folder / "bob.py")
    with zipfile.ZipFile(folder / "carol.zip", "w") as archive:
        archive.write(LORA_BERT.reference, "carol/lora_bert.py")
        archive.writestr("carol/notes.txt", "my notes")
    shutil.copy(LORA_BERT.examples / "correct_notebook.ipynb", folder / "dave.ipynb")
    return folder


@pytest.fixture(scope="module")
def resumed(submissions, tmp_path_factory):
    """The class graded in two goes, as after a batch killed half-way: alice and bob, then everyone."""
    out = tmp_path_factory.mktemp("resumed")
    grade(submissions / "alice.py", submissions / "bob.py", "--out", out)
    first = {name: (out / name / "results.json").stat().st_mtime_ns for name in ("alice", "bob")}
    table = grade(submissions, "--out", out).stdout
    return out, first, table


@pytest.fixture(scope="module")
def sharded(submissions, tmp_path_factory) -> tuple[Path, Path, str]:
    """The class graded afresh in two shards, the first as task 3 of a Slurm array ``--array=3-4`` (the README's
    script, with Slurm's variables set by hand), the second given as ``--shard 2/2``: their grades.csv files and the
    first's stderr. One fresh grading of the class, for the tests of sharding and of determinism alike."""
    root = tmp_path_factory.mktemp("sharded")
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "3"}
    task = grader("grade", submissions, "--out", root / "task3", "--shard", "auto", "--quiet", env=env)
    assert task.returncode == 0, task.stderr
    grade(submissions, "--out", root / "shard2", "--shard", "2/2")
    return root / "task3" / "grades.csv", root / "shard2" / "grades.csv", task.stderr


def merged(tmp_path: Path, *shards: Path) -> str:
    assert cli.main(["merge", str(tmp_path / "merged.csv"), *map(str, shards)]) == 0
    return (tmp_path / "merged.csv").read_text()


def test_scores(resumed):
    out, _, table = resumed
    assert {name: results(out, name)["score"] for name in ("alice", "bob", "carol", "dave")} == {
        "alice": 100, "bob": 0, "carol": 100, "dave": 100}
    assert "alice" in table and "100.0/100" in table and "0.0/100" in table


def test_results_follow_the_gradescope_format(resumed):
    out, _, _ = resumed
    for name in ("alice", "bob", "carol", "dave"):
        document = results(out, name)
        jsonschema.validate(document, SCHEMA)
        assert document["extra_data"]["device"] == "cpu"
        assert document["extra_data"]["torch"].startswith("2.")
        assert sum(t["max_score"] for t in document["tests"]) == pytest.approx(100)


def test_hidden_tests_are_graded_and_marked(resumed):
    tests = results(resumed[0], "alice")["tests"]
    hidden = [t for t in tests if t["visibility"] == "after_published"]
    assert hidden and all(t["status"] == "passed" for t in hidden)


def test_feedback_explains_failures_and_files_left_out(resumed):
    out, _, _ = resumed
    bob = (out / "bob" / "feedback.md").read_text()
    assert bob.startswith("# bob: 0.0 / 100")
    assert "LoRALayer.__init__ is not implemented yet" in bob
    assert "`carol/notes.txt`" in (out / "carol" / "feedback.md").read_text()


def test_a_resumed_batch_skips_what_is_graded_and_matches_a_fresh_one(resumed, sharded, tmp_path):
    out, first, _ = resumed
    assert {name: (out / name / "results.json").stat().st_mtime_ns for name in first} == first
    assert merged(tmp_path, *sharded[:2]) == (out / "grades.csv").read_text()  # and so deterministic


def test_grades_csv_has_a_row_per_submission_and_a_column_per_test(resumed):
    rows = read_csv(resumed[0] / "grades.csv")
    assert [row["name"] for row in rows] == ["alice", "bob", "carol", "dave"]
    columns = list(rows[0])
    assert columns[:4] == ["name", "score", "max_score", "source"]
    assert rows[0]["source"].endswith("alice.py")
    assert len(columns) - 4 == len(results(resumed[0], "alice")["tests"])


def test_public_only_leaves_the_hidden_tests_out(submissions, tmp_path):
    grade(submissions / "alice.py", "--out", tmp_path, "--public")
    document = results(tmp_path, "alice")
    assert document["score"] == 100
    assert not [t for t in document["tests"] if t["visibility"] != "visible"]


def test_shards_merge_into_the_whole(resumed, sharded, tmp_path):
    first, second, _ = sharded
    assert len(read_csv(first)) == 2 and len(read_csv(second)) == 2
    run = subprocess.run([sys.executable, "-m", "grader", "merge", str(tmp_path / "merged.csv"), str(first),
                          str(second)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "merged.csv").read_text() == (resumed[0] / "grades.csv").read_text()


def test_a_slurm_array_task_grades_its_own_shard(sharded):
    """Task 3 of ``--array=3-4`` is shard 1 of 2: the other half of the class from ``--shard 2/2``."""
    first, second, stderr = sharded
    assert "shard 1/2, from the Slurm array task 3 of 2" in stderr
    assert {row["name"] for row in read_csv(first)} == {"alice", "carol"}
    assert {row["name"] for row in read_csv(second)} == {"bob", "dave"}


@pytest.mark.parametrize("spec, env, message", [
    ("auto", {}, "not in a Slurm job array"),
    ("auto/4", {}, "not in a Kubernetes indexed Job"),
    ("auto/x", {"JOB_COMPLETION_INDEX": "0"}, "expected auto/N"),
])
def test_a_scheduler_shard_outside_its_scheduler_is_a_usage_error(spec, env, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.shard([1, 2, 3], spec, env)
    assert cli.shard(list(range(10)), "auto/4", {"JOB_COMPLETION_INDEX": "1"}) == [1, 5, 9]


def test_a_custom_rubric(submissions, tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('[points]\n"test_lora_layer.py" = 10\n"test_lora_layer.py::test_B_starts_at_zero" = 5\n')
    broken = tmp_path / "broken.py"
    broken.write_text((LORA_BERT.reference).read_text().replace(
        "torch.zeros(rank, out_dim)", "torch.randn(rank, out_dim)"))
    grade(broken, "--out", tmp_path / "out", "--rubric", rubric)
    document = results(tmp_path / "out", "broken")
    assert document["extra_data"]["max_score"] == 15
    assert document["score"] == pytest.approx(10)  # the group's 10 points; B's own 5 lost


@pytest.mark.parametrize("args, message", [
    (["no/such/path", "--out", "x"], "no/such/path: no such file or folder"),
    (["examples/lora-bert", "--out", "x", "--device", "cuda"], "no CUDA device"),
    (["examples/lora-bert", "--out", "x", "--shard", "3/2"], "--shard 3/2"),
    (["examples/lora-bert", "--out", "x", "--rubric", "README.md"], "not a rubric"),
    (["examples/lora-bert", "--out", "x", "--rubric", "tests/grader/rubrics/file_typo.toml"],
     "unknown group 'test_lora_layr.py' (did you mean 'test_lora_layer.py'"),
    (["examples/lora-bert", "--out", "x", "--rubric", "tests/grader/rubrics/test_typo.toml"],
     "unknown group 'test_merge.py::test_merged_wieght_formula' (did you mean 'test_merge.py::test_merged_weight"),
    (["examples/lora-bert", "--out", "x", "--rubric", "tests/grader/rubrics/section_typo.toml"],
     "unknown section 'point' (did you mean 'points'?)"),
])
def test_misuse_is_a_one_line_error(args, message):
    run = grade(*args, check=False)
    if "cuda" in args and "no CUDA device" not in run.stderr:
        pytest.skip("this machine has a GPU")
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_merging_something_that_is_not_grades_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "merge", str(tmp_path / "out.csv"), "README.md"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "not a grades.csv" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--timeout", "0", "must be more than 0 seconds"),
    ("--timeout", "-1", "must be more than 0 seconds"),
    ("--test-timeout", "0", "must be more than 0 seconds"),
    ("--test-timeout", "-1", "must be more than 0 seconds"),
    ("--cpu-time", "0", "must be more than 0 seconds"),
    ("--memory", "10", "10 MB is below the 512 MB that grading the reference needs"),
    ("--memory", "300", "300 MB is below the 512 MB that grading the reference needs"),
])
def test_limits_that_cannot_work_are_refused(tmp_path, option, value, message):
    run = grade("examples/lora-bert", "--out", tmp_path / "out", option, value, check=False)
    assert run.returncode == 2
    assert f"argument {option}: " in run.stderr and message in run.stderr
    assert not (tmp_path / "out").exists()
