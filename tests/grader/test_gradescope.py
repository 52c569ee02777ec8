"""``python -m grader gradescope OUT.zip``: a bundle whose run_autograder grades a submission as Gradescope would."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.assignments.pack import find
from grader.layout import ROOT
from grader.platforms import gradescope

LORA_BERT = find("lora-bert")

SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())


def test_bundle_grades_a_submission_in_a_simulated_autograder(tmp_path):
    bundle = tmp_path / "autograder.zip"
    run = subprocess.run([sys.executable, "-m", "grader", "gradescope", str(bundle)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        for script in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(archive.getinfo(script).external_attr >> 16) & 0o111, script
        archive.extractall(tmp_path / "source")
    assert "tests/assignment/test_counting.py" in names and "tiny_models/bert-tiny/model.safetensors" in names
    solution = "reference/lora-bert/lora_bert.py"
    assert not [n for n in names if n.startswith(("student_template/", "examples/")) or n == solution]
    assert "reference/lora-bert/assignment.toml" in names  # the pack's spec, without its reference

    (tmp_path / "submission").mkdir()  # a student's upload, under a name of their own
    shutil.copy(LORA_BERT.reference, tmp_path / "submission" / "my_lora.py")
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path), "PYTHON": sys.executable}
    where = subprocess.run([sys.executable, "-c", "import grader.layout as l; print(l.ROOT)"],
                           cwd=tmp_path / "source", capture_output=True, text=True, env=env)
    assert where.stdout.strip() == str(tmp_path / "source")  # the bundled grader, not this checkout
    run = subprocess.run(["bash", "run_autograder"], cwd=tmp_path / "source", capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 100
    assert any(t["visibility"] == "after_published" for t in results["tests"])  # hidden tests ran


@pytest.mark.parametrize("interpreter, status", [
    ("missing", 127),
    ("#!/bin/sh\nprintf 'Traceback: \"quoted\" \\\\ back\\ttab caf\\303\\251 \\001\\n' >&2\nexit 3\n", 3),
])
def test_run_autograder_always_leaves_results_gradescope_reads(tmp_path, interpreter, status):
    """A grader that cannot start (no interpreter) or crashes: the student still gets a score and the reason, in a
    results.json valid against Gradescope's schema, written by the shell alone."""
    (tmp_path / "source").mkdir()
    (tmp_path / "submission").mkdir()
    (tmp_path / "source" / "run_autograder").write_text(gradescope.run_autograder(600, find()))
    python = tmp_path / "python"
    if interpreter != "missing":
        python.write_text(interpreter)
        python.chmod(0o755)
    run = subprocess.run(["bash", "run_autograder"], cwd=tmp_path / "source", capture_output=True, text=True,
                         env={**os.environ, "AUTOGRADER_ROOT": str(tmp_path), "PYTHON": str(python)}, timeout=60)
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and results["tests"] == []
    assert f"could not grade this submission (exit status {status})" in results["output"]
    assert ("No such file or directory" if status == 127 else 'Traceback: "quoted" \\ back tab caf') \
        in results["output"]


def test_setup_installs_a_packs_own_requirements(tmp_path):
    """peft-bert's spec requires peft: its autograder image installs it after the grader; lora-bert's needs nothing
    more."""
    assert gradescope.setup_sh(find()) == gradescope.SETUP_SH
    gradescope.build(tmp_path / "autograder.zip", find("peft-bert"))
    with zipfile.ZipFile(tmp_path / "autograder.zip") as bundle:
        setup = bundle.read("setup.sh").decode()
    assert setup.startswith(gradescope.SETUP_SH)
    assert setup.endswith("/autograder/venv/bin/pip install 'peft>=0.13'\n")
