"""How the suite finds and imports a submission: files, folders, notebooks, and broken ones."""

import re
from pathlib import Path

import nbformat

from grader.assignments.pack import find
from grader.layout import ROOT
from tests.judging.submission import load_submission

from ..suite_run import pytest_in

LORA_BERT = find("lora-bert")

REFERENCE = LORA_BERT.reference


def write_notebook(path: Path, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbformat.write(notebook, path)
    return path


def test_a_file_under_any_name(tmp_path):
    path = tmp_path / "student_42.py"
    path.write_text("def add_lora():\n    return 'mine'\n")
    loaded = load_submission(path)
    assert loaded.error is None and loaded.module.add_lora() == "mine"


def test_a_folder_holding_lora_bert(tmp_path):
    (tmp_path / "lora_bert.py").write_text("VALUE = 3\n")
    assert load_submission(tmp_path).module.VALUE == 3


def test_a_folder_without_a_submission(tmp_path):
    loaded = load_submission(tmp_path)
    assert loaded.module is None and "neither lora_bert.py nor lora_bert.ipynb" in loaded.error


def test_exit_at_import_is_recorded_not_raised(tmp_path):
    path = tmp_path / "lora_bert.py"
    path.write_text("print('training...')\nimport sys\nsys.exit(3)\n")
    loaded = load_submission(path)
    assert loaded.module is None
    assert "SystemExit: 3" in loaded.error and "line 3" in loaded.error
    assert loaded.output == "training...\n"


def test_a_notebook_runs_its_cells_as_ipython_does_and_keeps_what_other_cells_define(tmp_path):
    path = write_notebook(tmp_path / "lora_bert.ipynb", [
        "%matplotlib inline\n!pip install peft\nA = 1",
        "%%capture\nD = 4",
        "%%time\nB = undefined_name",
        "%time C = A + 1",
        "%%html\n<b>not python</b>",
    ])
    loaded = load_submission(path)
    assert loaded.error is None
    assert (loaded.module.A, loaded.module.C, loaded.module.D) == (1, 2, 4)
    assert len(loaded.cell_errors) == 1 and "cell 2" in loaded.cell_errors[0]
    assert "NameError" in loaded.cell_errors[0] and "line 1" in loaded.cell_errors[0]


def test_a_colab_notebook_whose_cells_start_with_cell_magics_passes(tmp_path):
    """Every definition cell under ``%%time``, as Colab users often write them: the suite passes it."""
    cells = ["%%time\n" + cell for cell in re.split(r"^(?=# %%)", REFERENCE.read_text(), flags=re.MULTILINE)]
    path = write_notebook(tmp_path / "lora_bert.ipynb", ["!pip install transformers", *cells])
    loaded = load_submission(path)
    assert loaded.cell_errors == [] and callable(loaded.module.merge_lora)
    code, output = pytest_in(ROOT, ["tests/assignment", "--submission", str(path), "-q", "-p", "no:cacheprovider"])
    assert code == 0, output[-3000:]
    assert re.search(r"\b\d{2,3} passed", output) and "failed" not in output


def test_a_notebook_that_is_not_json(tmp_path):
    path = tmp_path / "lora_bert.ipynb"
    path.write_text("{ this is not json")
    loaded = load_submission(path)
    assert loaded.module is None and "not a readable notebook" in loaded.error


def test_the_suite_passes_the_reference_as_a_notebook(tmp_path):
    cells = re.split(r"^(?=# %%)", REFERENCE.read_text(), flags=re.MULTILINE)
    path = write_notebook(tmp_path / "lora_bert.ipynb", ["%load_ext autoreload", *cells])
    assert load_submission(path).cell_errors == []
    code, output = pytest_in(ROOT, ["tests/assignment", "--submission", str(path), "-q", "-p", "no:cacheprovider"])
    assert code == 0, output[-3000:]
    assert " passed" in output and "failed" not in output
