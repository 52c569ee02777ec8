"""The student template: generated from the reference, in sync with it, a score of 0, a notebook that runs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader import cli, layout
from grader.assignments.pack import find
from grader.authoring import template
from grader.grading.rubric import Rubric

from ..pack_copy import pack_copy
from ..suite_run import run_suite

LORA_BERT = find("lora-bert")

STUB = "is not implemented yet"


def test_committed_template_is_what_the_generator_writes(capsys):
    assert cli.main(["template", "--check"]) == 0, capsys.readouterr().err


def test_generation_is_deterministic():
    first, again = (template.render(LORA_BERT.reference, LORA_BERT.module) for _ in range(2))
    assert first == again


def moved_template(folder: Path) -> dict[str, str]:
    """The spec's change that puts the pack's template in ``folder``."""
    return {f'template = "{LORA_BERT.spec["template"]}"': f'template = "{folder}"'}


def test_check_fails_after_one_character_of_the_reference_changes(tmp_path, capsys):
    changed = pack_copy(tmp_path / "pack", reference=LORA_BERT.reference.read_text().replace("Part 1.", "Part 1:", 1))
    assert cli.main(["template", "--check", "--assignment", str(changed)]) == 1
    error = capsys.readouterr().err
    assert "student_template/lora-bert/lora_bert.py is out of date" in error
    assert "student_template/lora-bert/lora_bert.ipynb is out of date" in error


GOOD_FUNCTION = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n"


@pytest.mark.parametrize("source, line, message", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", 2, "unclosed region"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", 3, "nested region"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "outside any function or class body"),
    ("def f():\n    return 1\n    # END SOLUTION\n", 3, "without a '# BEGIN SOLUTION'"),
    ("def f():\n    # begin solution\n    return 1\n    # END SOLUTION\n", 2, "malformed marker"),
    (GOOD_FUNCTION + "\nif True:\n    # BEGIN SOLUTION\n    y = 2\n    # END SOLUTION\n", 7, "outside any function"),
    # consistently misspelled pairs, which would otherwise pass as ordinary code
    ("def f():\n    # BEGIN SOLUTIONS\n    return 1\n    # END SOLUTIONS\n", 2, "malformed marker"),
    ("def f():\n    # BEGIN_SOLUTION\n    return 1\n    # END_SOLUTION\n", 2, "malformed marker"),
    ("def f():\n    # SOLUTION BEGIN\n    return 1\n    # SOLUTION END\n", 2, "malformed marker"),
    ("def f():\n    #BEGIN SOLUTION\n    return 1\n    #END SOLUTION\n", 2, "malformed marker"),
    ("def f():\n    # Begin-Solution\n    return 1\n    # End-Solution\n", 2, "malformed marker"),
])
def test_marker_errors_name_the_line_and_write_nothing(tmp_path, capsys, source, line, message):
    folder = pack_copy(tmp_path / "pack", moved_template(tmp_path / "out"), reference=source)
    reference = folder / LORA_BERT.reference.name
    assert cli.main(["template", "--assignment", str(folder)]) == 2
    error = capsys.readouterr().err
    assert f"{reference}:{line}:" in error and message in error, error
    assert not (tmp_path / "out").exists()


def test_check_fails_when_a_solution_line_is_in_the_template(tmp_path, capsys):
    folder = tmp_path / "student_template"
    template.write(template.render(LORA_BERT.reference, LORA_BERT.module), folder)
    leaked = "        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))"
    assert leaked.strip() in template.solution_only_lines(LORA_BERT.reference.read_text(), LORA_BERT.reference)
    stub = folder / "lora_bert.py"
    stub.write_text(stub.read_text() + f"\n\ndef helper(self):\n{leaked}\n")
    pack = pack_copy(tmp_path / "pack", moved_template(folder))
    assert cli.main(["template", "--check", "--assignment", str(pack)]) == 1
    error = capsys.readouterr().err
    assert f"solution code in the template: {stub}:" in error and "kaiming_uniform_(self.A" in error


def test_stub_keeps_signature_docstring_and_indentation():
    source = ('class C:\n    def f(self, x):\n        """Doc."""\n'
              '        # BEGIN SOLUTION\n        return x\n        # END SOLUTION\n')
    assert template.strip_solutions(source, LORA_BERT.reference) == (
        'class C:\n    def f(self, x):\n        """Doc."""\n        # YOUR CODE HERE\n'
        '        raise NotImplementedError("C.f is not implemented yet")\n')


def test_no_solution_reaches_the_template():
    files = template.render(LORA_BERT.reference, LORA_BERT.module)
    for text in files.values():
        assert "SOLUTION" not in text
    assert "kaiming_uniform_(self.A" not in files["lora_bert.py"]
    assert "kaiming_uniform_" in files["lora_bert.py"]  # the hint in Part 1's text stays


def test_template_scores_zero_and_the_reference_full_marks():
    rubric = Rubric.load()
    on_template = run_suite(LORA_BERT.template / "lora_bert.py")
    assert on_template.outcomes, on_template.output
    for test in on_template.with_outcome("failed"):
        assert STUB in on_template.messages[test], on_template.messages[test]
    graded = {test for test, share in rubric.max_scores(list(on_template.outcomes)).items() if share > 0}
    assert graded <= on_template.with_outcome("failed") | on_template.with_outcome("skipped")
    assert rubric.score({t: o == "passed" for t, o in on_template.outcomes.items()}) == 0
    on_reference = run_suite(LORA_BERT.reference)
    assert not on_reference.with_outcome("failed"), on_reference.output
    assert rubric.score({t: o != "failed" for t, o in on_reference.outcomes.items()}) == pytest.approx(100)


def execute(notebook_text: str):
    notebook = nbformat.reads(notebook_text, as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(layout.ROOT)}}).execute()
    return notebook


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_template_notebook_validates_and_runs_top_to_bottom():
    text = (LORA_BERT.template / "lora_bert.ipynb").read_text()
    nbformat.validate(nbformat.reads(text, as_version=4))
    notebook = execute(text)
    assert f"Not implemented yet: initialize_base_model {STUB}" in printed(notebook.cells[-1])


def test_reference_as_notebook_trains_in_its_last_cell():
    notebook = execute(template.to_notebook(LORA_BERT.reference.read_text(), LORA_BERT.module))
    assert "epoch 5: train loss" in printed(notebook.cells[-1])
