"""The student bundle: public tests only, and a plain ``pytest`` inside it judges lora_bert.py offline."""

import shutil
import tomllib

import pytest

from grader import layout, release

from ..suite_run import run_suite

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
    release.build(out)
    return out


def test_bundle_holds_the_public_suite_only(bundle):
    hidden_in_repo = run_suite(layout.REFERENCE, args=("tests/assignment", "-m", "hidden")).outcomes
    assert hidden_in_repo, "the repository should have hidden tests for this check to mean anything"
    shutil.copy(layout.REFERENCE, bundle / "lora_bert.py")
    in_bundle = run_suite(None, cwd=bundle, args=())
    public_in_repo = run_suite(layout.REFERENCE, args=("tests/assignment", "-m", "not hidden")).outcomes
    assert set(in_bundle.outcomes) == set(public_in_repo)
    assert not set(in_bundle.outcomes) & set(hidden_in_repo)
    assert "mark.hidden" not in "".join(p.read_text() for p in (bundle / "tests").rglob("*.py"))
    assert not in_bundle.with_outcome("failed"), in_bundle.output
    (bundle / "lora_bert.py").unlink()


def test_bundle_judges_the_template_as_unfinished(bundle):
    shutil.copy(layout.TEMPLATE_DIR / "lora_bert.py", bundle / "lora_bert.py")
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
    assert "transformers" in (bundle / "requirements.txt").read_text()


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
        release.build(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "student work"
