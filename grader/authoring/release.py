"""Write the student bundle: the template, the public tests, the tiny models, the data and a README.

Inside the bundle a plain ``pytest`` judges the student's module (``lora_bert.py`` for lora-bert) offline.
Tests marked ``@pytest.mark.hidden`` run when grading and are cut out of the copies
that students receive. The bundle is built in a scratch folder beside ``out`` and
moved into place at the end, so a failed build leaves nothing half-written.
"""

import ast
import json
import shutil
from pathlib import Path

from grader import layout
from grader.assignments.pack import SPEC_IN_SUITE, Pack
from grader.authoring import template
from grader.grading import batch, outputs
from grader.grading.rubric import Rubric, part_titles
from grader.platforms import classroom
from grader.run.worker_client import Worker, start_together

HIDDEN_MARKS = ("pytest.mark.hidden", "mark.hidden")

# The suite's options come from a plugin loaded before pytest reads the command line
# (see tests/options.py); ``pythonpath`` makes ``tests`` importable for it (pytest 9
# applies it first). No tests/conftest.py in the bundle: it would register them twice.
PYTEST_INI = """\
[pytest]
testpaths = tests
timeout = 120
pythonpath = .
addopts = -p tests.options
"""
BUNDLE_SUITE_ROOT = ("__init__.py", "options.py", "notebook.py", "judging")

README = """\
# {title}

Your assignment: write the parts of `{module}.py` marked `# YOUR CODE HERE` (or, if
you prefer a notebook, of `{module}.ipynb`). `ASSIGNMENT.md` states every rule your
code must follow; the tests in `tests/` check them.

## Install

With Python {python} or newer, in this folder. Install PyTorch first: its CPU-only
build is all the assignment needs, and much smaller than the default one on Linux
(with an NVIDIA GPU you may use `pip install torch` instead):

```bash
python3 -m venv .venv && source .venv/bin/activate
pip install torch --index-url https://download.pytorch.org/whl/cpu
pip install -r requirements.txt
```

To work in the notebook rather than in `{module}.py`:

```bash
pip install notebook
jupyter notebook {module}.ipynb
```

## Run the tests

```bash
pytest                                         # judges {module}.py
pytest --submission {module}.ipynb            # judges the notebook instead
pytest -k lora_layer                           # only the tests of Part 1
pytest --submission=../elsewhere/{module}.py  # a file outside this folder
```

(For a file outside this folder, write `--submission=PATH` with the `=`: with a space,
pytest takes the path for the tests to run and never reads this folder's settings.)

Everything runs offline, on the tiny models in `tiny_models/`, in a few seconds. On
the untouched template the tests of each part wait for code that still raises
`NotImplementedError`, one line per part: that is your to-do list. Each failure names
the rule you broke, what was expected and what was found. The run ends with your
points, part by part, from the rubric the graders use, and how many points the hidden
tests hold: they check the same rules and run when your submission is graded.
{train}
## What the tests check

The graders also run hidden tests, on the same rules; `tests/points.json` says what
each public test is worth. If your course uses GitHub Classroom, the workflow in
`.github/workflows/classroom.yml` grades each push: your points show in Classroom and
on the run's summary page.

| file | what it checks | tests |
| --- | --- | --- |
{table}
"""


# For a module with a ``main``: how to train with it.
TRAIN = """
## Train

```bash
python {module}.py --model tiny_models/bert-tiny
```

prints how many parameters LoRA trains, then the loss and the accuracy of every epoch.
"""


class ReleaseError(Exception):
    """The bundle cannot be written where it was asked for."""


def is_hidden(node: ast.AST) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any(ast.unparse(d.func if isinstance(d, ast.Call) else d) in HIDDEN_MARKS for d in decorators)


def marks_whole_module_hidden(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)
               and any(mark in ast.unparse(node.value) for mark in HIDDEN_MARKS) for node in tree.body)


def public_source(source: str) -> str | None:
    """A test file without its hidden tests; ``None`` when the whole file is hidden."""
    tree = ast.parse(source)
    if marks_whole_module_hidden(tree):
        return None
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if is_hidden(node):
            first = min(d.lineno for d in node.decorator_list)
            del lines[first - 1:node.end_lineno]
    return "".join(lines)


def describe_tests(source: str) -> tuple[str, list[str]]:
    """The module docstring's first line and the test names, for the student README."""
    tree = ast.parse(source)
    summary = (ast.get_docstring(tree) or "").splitlines()[0] if ast.get_docstring(tree) else ""
    names = [node.name.removeprefix("test_").replace("_", " ") for node in tree.body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    return summary, names


def python_version() -> str:
    """The oldest Python the project supports, from ``requires-python`` (``>=3.11`` gives 3.11)."""
    return layout.project()["requires-python"].removeprefix(">=")


def copy_suite(folder: Path, assignment: Pack) -> list[str]:
    """The suite's helpers as they are, its test files without hidden tests, and the pack's spec (the suite reads
    its conventions there); README table rows."""
    tests = folder / "tests"
    (tests / "assignment").mkdir(parents=True)
    layout.copy_suite_root(tests, BUNDLE_SUITE_ROOT)
    shutil.copy(assignment.spec_file, tests / SPEC_IN_SUITE)
    rows = []
    graded = {group.partition("::")[0] for group in assignment.points}
    for path in sorted(assignment.suite.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name.startswith("test_") and path.name not in graded:
            continue  # a part this assignment does not have
        if path.name.startswith("test_"):
            source = public_source(source)
            if source is None:
                continue
            summary, names = describe_tests(source)
            rows.append(f"| `{path.name}` | {summary} | {'; '.join(names)} |")
        (tests / "assignment" / path.name).write_text(source, encoding="utf-8")
    return rows


def points(rubric: Rubric, assignment: Pack) -> dict:
    """tests/points.json: each public test's points and the hidden tests' total, as the grader scores on
    the CPU (the suite shows students their points from it; see tests/judging/points.py)."""
    worker = Worker()
    try:
        start_together([worker])  # forked, where this process is warm (the project's tests fork their commands)
        tests = batch.expected_tests(batch.Settings(pack=assignment, device="cpu", rubric=rubric), worker)
    finally:
        worker.close()
    shares = rubric.max_scores([test["id"] for test in tests])
    return {
        "total": rubric.total,
        "hidden": sum(shares[test["id"]] for test in tests if test["hidden"]),
        "parts": part_titles(rubric, assignment.suite),
        "tests": {test["id"]: shares[test["id"]] for test in tests if not test["hidden"]},
    }


def fill(folder: Path, assignment: Pack) -> None:
    template.write(template.render(assignment.reference, assignment.module), folder)
    rows = copy_suite(folder, assignment)
    rubric = Rubric.of_pack(assignment)
    (folder / "tests" / "points.json").write_text(json.dumps(points(rubric, assignment), indent=1) + "\n")
    layout.copy_models_and_data(folder)
    shutil.copy(assignment.contract, folder / "ASSIGNMENT.md")
    (folder / "pytest.ini").write_text(PYTEST_INI)
    (folder / "requirements.txt").write_text(layout.requirements(students=True, extra=assignment.requires))
    trains = "\ndef main(" in assignment.reference.read_text(encoding="utf-8")
    (folder / "README.md").write_text(README.format(
        title=assignment.title, module=assignment.module, table="\n".join(rows), python=python_version(),
        train=TRAIN.format(module=assignment.module) if trains else ""))
    workflows = folder / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "classroom.yml").write_text(classroom.workflow(rubric, assignment))


def build(out: Path, assignment: Pack) -> None:
    outputs.write_folder(out, lambda folder: fill(folder, assignment), ReleaseError)
