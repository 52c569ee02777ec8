"""The student bundle: public tests only, and a plain ``pytest`` inside it judges lora_bert.py offline."""

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader import layout
from grader.assignments.pack import available, find
from grader.authoring import release, template
from grader.grading.rubric import Rubric
from grader.platforms import classroom

from ..mutants.mutants import BROKEN
from ..suite_run import collected, run_suite, suite_environment
from ..warm_grader import grader

LORA_BERT = find("lora-bert")

HIDDEN_SOURCE = '''import pytest


def test_public():
    assert True


@pytest.mark.hidden
@pytest.mark.parametrize("x", [1, 2])
def test_secret(x):
    assert x


@pytest.mark.hidden(reason="graders only")
class TestSecret:
    def test_inside(self):
        assert True


def test_public_too():
    assert True
'''


def test_hidden_tests_are_cut_out():
    public = release.public_source(HIDDEN_SOURCE)
    assert "secret" not in public.lower() and "test_inside" not in public
    assert "def test_public():" in public and "def test_public_too():" in public
    compile(public, "public.py", "exec")


def test_a_wholly_hidden_module_is_left_out():
    assert release.public_source("import pytest\npytestmark = [pytest.mark.hidden]\n") is None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "lora-assignment"
    run = grader("release", out)  # forked warm: its collection of the suite forks a worker too
    assert run.returncode == 0, run.stderr
    return out


def test_bundle_holds_the_public_suite_only(bundle):
    hidden_in_repo = collected(("tests/assignment", "-m", "hidden"))
    assert hidden_in_repo, "the repository should have hidden tests for this check to mean anything"
    shutil.copy(LORA_BERT.reference, bundle / "lora_bert.py")
    in_bundle = run_suite(None, cwd=bundle, args=())
    public_in_repo = collected(("tests/assignment", "-m", "not hidden"))
    assert set(in_bundle.outcomes) == set(public_in_repo)
    assert not set(in_bundle.outcomes) & set(hidden_in_repo)
    assert "mark.hidden" not in "".join(p.read_text() for p in (bundle / "tests").rglob("*.py"))
    assert not in_bundle.with_outcome("failed"), in_bundle.output
    (bundle / "lora_bert.py").unlink()


def test_bundle_judges_the_template_as_unfinished(bundle):
    shutil.copy(LORA_BERT.template / "lora_bert.py", bundle / "lora_bert.py")
    run = run_suite(None, cwd=bundle, args=())
    assert len(run.with_outcome("failed")) >= 70, run.output
    assert run.with_outcome("passed") == {"tests/assignment/test_module.py::test_importing_prints_little"}
    (bundle / "lora_bert.py").unlink()


def test_bundle_contents(bundle):
    for path in ("lora_bert.ipynb", "ASSIGNMENT.md", "README.md", "requirements.txt", "pytest.ini",
                 "data/reviews.csv", "tiny_models/bert-tiny/model.safetensors",
                 "tiny_models/distilbert-tiny/vocab.txt", "tests/assignment/conftest.py"):
        assert (bundle / path).is_file(), path
    assert not list(bundle.rglob("make_*.py"))
    readme = (bundle / "README.md").read_text()
    assert "`test_lora_layer.py`" in readme and "B starts at zero" in readme
    requirements = (bundle / "requirements.txt").read_text()
    assert "transformers" in requirements and "pytest-timeout" in requirements
    assert not any(tool in requirements for tool in ("copydetect", "matplotlib", "jinja2")), "staff's tools only"


def test_the_bundle_tells_students_the_truth_about_their_tools(bundle):
    readme = (bundle / "README.md").read_text()
    with open(layout.PYPROJECT, "rb") as f:
        oldest = tomllib.load(f)["project"]["requires-python"].removeprefix(">=")
    assert f"With Python {oldest} or newer" in readme
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in readme  # the CPU build
    assert "jupyter notebook lora_bert.ipynb" in readme and "pip install notebook" in readme


def test_refuses_to_overwrite_a_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("student work")
    with pytest.raises(release.ReleaseError, match="not an empty folder"):
        release.build(tmp_path, LORA_BERT)
    assert (tmp_path / "keep.txt").read_text() == "student work"


def readme_pytest_commands(readme: str) -> list[str]:
    """Every ``pytest ...`` line of the bundle README's shell blocks, without its comment."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    return [line.partition("#")[0].strip() for block in blocks for line in block.splitlines()
            if line.startswith("pytest")]


def run_in_fresh_copy(bundle: Path, tmp_path: Path, command: str, submission: Path) -> subprocess.CompletedProcess:
    """``command`` as a student types it, in a copy of the bundle holding ``submission`` (and a copy of it in
    ``../elsewhere/``, for the README's file outside the folder)."""
    copy = tmp_path / "bundle"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(bundle, copy)
    shutil.copy(submission, copy / "lora_bert.py")
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    shutil.copy(submission, tmp_path / "elsewhere" / "lora_bert.py")
    pytest_script = Path(sys.executable).with_name("pytest")
    return subprocess.run([str(pytest_script), *shlex.split(command)[1:], "-p", "no:cacheprovider"], cwd=copy,
                          capture_output=True, text=True, timeout=300,
                          env=suite_environment())


@pytest.fixture(scope="module")
def readme_runs(bundle, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every ``pytest`` command of the bundle README, as a student types it, on the template: command -> run."""
    commands = readme_pytest_commands((bundle / "README.md").read_text())
    return {command: run_in_fresh_copy(bundle, tmp_path_factory.mktemp("readme"), command,
                                       LORA_BERT.template / "lora_bert.py") for command in commands}


def test_every_pytest_command_of_the_bundle_readme_works_as_written(readme_runs):
    assert "pytest --submission lora_bert.ipynb" in readme_runs and any("=../elsewhere/" in c for c in readme_runs)
    for command, run in readme_runs.items():
        output = run.stdout + run.stderr
        assert run.returncode == 1, f"{command}: exit {run.returncode}\n{output[-3000:]}"  # tests ran and failed
        assert "not implemented" in output and "public tests" in output, f"{command}\n{output[-3000:]}"


def test_the_template_shows_zero_points_briefly_and_the_reference_full_public_points(bundle, readme_runs, tmp_path):
    on_template = readme_runs["pytest"].stdout  # the README's first command
    assert len(on_template.splitlines()) < 100, on_template
    assert "Traceback" not in on_template and "NotImplementedError" in on_template
    public = sum(json.loads((bundle / "tests" / "points.json").read_text())["tests"].values())
    assert re.search(rf"public tests +0\.0 / +{public:.1f}", on_template), on_template
    on_reference = run_in_fresh_copy(bundle, tmp_path, "pytest", LORA_BERT.reference)
    assert on_reference.returncode == 0, on_reference.stdout[-3000:]
    assert re.search(rf"public tests +{public:.1f} / +{public:.1f}", on_reference.stdout), on_reference.stdout
    assert "The hidden tests hold the other" in on_reference.stdout


def test_points_are_the_graders_shares(bundle):
    document = json.loads((bundle / "tests" / "points.json").read_text())
    assert sum(document["tests"].values()) + document["hidden"] == pytest.approx(document["total"]) == 100
    assert not any("merge_after_training" in test for test in document["tests"])  # a hidden test's points stay hidden


def run_check_in_notebook(bundle: Path, tmp_path: Path, notebook_text: str) -> tuple[str, float]:
    """The notebook executed top to bottom in a fresh copy of the bundle, then ``check()`` in a new last
    cell, as a student runs it; the HTML table it displays, and the seconds that cell took."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    notebook = nbformat.reads(notebook_text, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("check()"))
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(copy)}},
                   record_timing=True).execute()
    cell = notebook.cells[-1]
    shown = "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)
    timing = cell.metadata["execution"]
    seconds = (datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
               - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
    return shown, seconds


def table_rows(shown: str) -> dict[str, tuple[float, float]]:
    return {part: (float(got), float(of)) for part, got, of in
            re.findall(r"<t[dh]>([\w ]+)</t[dh]><t[dh][^>]*>([\d.]+) / ([\d.]+)</t[dh]>", shown)}


def test_check_in_the_notebook_shows_full_public_points_for_a_correct_solution(bundle, tmp_path):
    notebook = template.to_notebook(LORA_BERT.reference.read_text(), LORA_BERT.module)
    shown, seconds = run_check_in_notebook(bundle, tmp_path, notebook)
    rows = table_rows(shown)
    public = sum(json.loads((bundle / "tests" / "points.json").read_text())["tests"].values())
    assert rows["public tests"] == (pytest.approx(public, abs=0.05), pytest.approx(public, abs=0.05)), shown
    assert rows["LoRALayer"] == (20.0, 20.0) and "hidden tests hold" in shown
    print(f"check() took {seconds:.1f} s in the kernel")


def test_check_in_the_notebook_shows_what_a_broken_part_loses(bundle, tmp_path):
    broken = next(m for m in BROKEN if m.name == "merge_without_scaling").apply(LORA_BERT.reference.read_text())
    rows = table_rows(run_check_in_notebook(bundle, tmp_path, template.to_notebook(broken, LORA_BERT.module))[0])
    got, of = rows["merge_lora"]
    assert got < of and rows["LoRALayer"] == (20.0, 20.0)
    assert rows["public tests"][0] == pytest.approx(rows["public tests"][1] - (of - got), abs=0.05)


def test_the_bundle_is_a_classroom_repository_template(bundle):
    """Its workflow is the one tests/grader/test_classroom.py checks against the reporter's rules."""
    assert (bundle / ".github" / "workflows" / "classroom.yml").read_text() == classroom.workflow(Rubric.load(), find())


@pytest.mark.parametrize("other", [p for p in available() if p.name != LORA_BERT.name], ids=lambda p: p.name)
def test_each_other_pack_has_a_bundle_that_judges_offline(other, tmp_path):
    """Another pack's bundle: its module, its spec beside the suite, only its parts' tests; a plain ``pytest`` there
    passes its reference and fails its template on everything but the quiet import."""
    out = tmp_path / other.name
    run = grader("release", out, "--assignment", other.name)
    assert run.returncode == 0, run.stderr
    module = out / other.file_names[0]
    assert module.read_text() == (other.template / other.file_names[0]).read_text()
    assert (out / "tests" / "assignment.toml").read_text() == other.spec_file.read_text()
    assert set(other.requires) <= set((out / "requirements.txt").read_text().splitlines())  # its own packages
    on_template = run_suite(None, cwd=out, args=())
    passed = {test.rpartition("::")[2] for test in on_template.with_outcome("passed")}
    assert passed == {"test_importing_prints_little"} and on_template.with_outcome("failed"), on_template.output
    shutil.copy(other.reference, module)
    on_reference = run_suite(None, cwd=out, args=())
    assert on_reference.with_outcome("passed") and not on_reference.with_outcome("failed"), on_reference.output
    assert {test.partition("::")[0].rpartition("/")[2] for test in on_reference.outcomes} <= set(other.points)
