"""Generate a pack's student template, ``MODULE.py`` and ``MODULE.ipynb``, from its reference.

Each region between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes a stub, at the
same indentation, that raises ``NotImplementedError`` naming the function to write;
signatures, docstrings, hints and the provided code stay. The reference is written in
the "percent" cell format (``# %%`` starts a code cell, ``# %% [markdown]`` a markdown
cell), from which the notebook takes its cells. The same reference always gives the
same bytes, so ``--check`` can tell whether ``student_template/NAME/`` is up to date.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
# Anything that may have been meant as a marker (either word order, any case, spaces, underscores or
# hyphens, a plural, START/STOP): only the two exact lines are markers, every near miss is an error,
# so that a misspelled pair never lets a solution through as ordinary code.
MARKER = re.compile(r"#.*\b(?:(?:BEGIN|END|START|STOP)[\s_-]*SOLUTIONS?|SOLUTIONS?[\s_-]*(?:BEGIN|END|START|STOP))\b",
                    re.IGNORECASE)
CELL = re.compile(r"^# %%(?P<kind>.*)$")
MAIN_GUARD = 'if __name__ == "__main__":'

NOTEBOOK_TESTS_MARKDOWN = """\
## Running the tests{and_training}

Keep this notebook as `{module}.ipynb` beside `tests/`, `tiny_models/` and `data/`.
`check()` (defined above) runs the public tests from here and shows your points;
`check("LoRALayer")` only those of Part 1. In a terminal there,
`pytest --submission {module}.ipynb` does the same on the saved notebook. Each
failure names the rule, what was expected and what was found."""

# For a reference with a ``main(argv)``: a last cell that trains, which the tests never run.
NOTEBOOK_TRAINING_MARKDOWN = """\
The cell below fine-tunes the tiny BERT once your parts work. It runs here in Jupyter
but not when the tests import the notebook: training belongs under
`if __name__ == "__main__":`."""

NOTEBOOK_ENDING_CODE = """\
if __name__ == "__main__":
    try:
        main(["--model", "tiny_models/bert-tiny", "--epochs", "5"])
    except NotImplementedError as missing:
        print(f"Not implemented yet: {missing}")"""


class MarkerError(ValueError):
    """A solution marker the generator cannot turn into a stub; nothing is written."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class Region:
    begin: int  # index of the BEGIN line
    end: int  # index of the END line
    indent: str
    owner: str  # qualified name of the enclosing function or class


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def scopes(source: str) -> list[tuple[int, int, int, str]]:
    """``(first line, last line, column, qualified name)`` of every function and class body.

    A body runs past its last statement over the blank and more indented lines that
    follow, so that an ``# END SOLUTION`` after a ``return`` still counts as inside.
    """
    lines = source.splitlines()
    found = []

    def visit(node, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                last = child.end_lineno
                while last < len(lines) and (not lines[last].strip() or indentation(lines[last]) > child.col_offset):
                    last += 1
                found.append((child.lineno, last, child.col_offset, prefix + child.name))
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def find_regions(source: str, path: Path) -> list[Region]:
    """The solution regions of ``source``, or a ``MarkerError`` for the first malformed marker."""
    try:
        bodies = scopes(source)
    except SyntaxError as error:
        raise MarkerError(path, error.lineno or 0, f"the reference does not parse: {error.msg}") from None
    lines = source.splitlines()
    regions, opened = [], None
    for index, line in enumerate(lines):
        if not MARKER.search(line):
            continue
        number, text = index + 1, line.strip()
        if text not in (BEGIN, END):
            raise MarkerError(path, number, f"malformed marker {text!r}: write '{BEGIN}' or '{END}' alone on the line")
        owners = [name for first, last, column, name in bodies
                  if first < number <= last and indentation(line) > column]
        if not owners:
            raise MarkerError(path, number, f"'{text}' outside any function or class body")
        if text == BEGIN:
            if opened is not None:
                raise MarkerError(path, number,
                                  f"nested region: '{BEGIN}' inside the region opened on line {opened + 1}")
            opened, owner = index, owners[-1]
        else:
            if opened is None:
                raise MarkerError(path, number, f"'{END}' without a '{BEGIN}' before it")
            if indentation(line) != indentation(lines[opened]):
                raise MarkerError(path, number, f"'{END}' is not indented like its '{BEGIN}' on line {opened + 1}")
            regions.append(Region(opened, index, lines[opened][:indentation(lines[opened])], owner))
            opened = None
    if opened is not None:
        raise MarkerError(path, opened + 1, f"unclosed region: '{BEGIN}' without '{END}'")
    return regions


def strip_solutions(source: str, path: Path) -> str:
    """The template: every solution region replaced by a stub raising ``NotImplementedError``."""
    lines = source.splitlines(keepends=True)
    for region in reversed(find_regions(source, path)):
        stub = [f"{region.indent}# YOUR CODE HERE\n",
                f'{region.indent}raise NotImplementedError("{region.owner} is not implemented yet")\n']
        lines[region.begin:region.end + 1] = stub
    return "".join(lines)


def percent_cells(source: str) -> list[tuple[str, str]]:
    """``(cell type, text)`` for each ``# %%`` cell; markdown loses its leading ``# ``."""
    cells, kind, body = [], "code", []

    def close():
        text = "\n".join(body).strip("\n")
        if kind == "markdown":
            text = "\n".join(re.sub(r"^# ?", "", line) for line in text.splitlines())
        if text:
            cells.append((kind, text))

    for line in source.splitlines():
        header = CELL.match(line)
        if header:
            close()
            kind, body = ("markdown" if "[markdown]" in header["kind"] else "code"), []
        else:
            body.append(line)
    close()
    return cells


def to_notebook(template_source: str, module: str) -> str:
    """The notebook: the template's cells, then a section on running the tests (and the training, where the
    module has a ``main``).

    The reference's ``if __name__ == "__main__": main()`` cell is left out: in Jupyter
    ``__name__`` is ``"__main__"`` and ``main()`` would parse the kernel's arguments.
    """
    cells = [(kind, text) for kind, text in percent_cells(template_source) if not text.startswith(MAIN_GUARD)]
    trains = "\ndef main(" in template_source
    tests = NOTEBOOK_TESTS_MARKDOWN.format(module=module, and_training=" and the training" if trains else "")
    cells += [("markdown", f"{tests}\n\n{NOTEBOOK_TRAINING_MARKDOWN}"), ("code", NOTEBOOK_ENDING_CODE)] if trains \
        else [("markdown", tests)]
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    notebook = nbformat.v4.new_notebook(
        cells=[make[kind](text, id=f"cell-{index:02d}") for index, (kind, text) in enumerate(cells)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python"}},
    )
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def render(reference: Path, module: str) -> dict[str, str]:
    """The template's files, ``MODULE.py`` and ``MODULE.ipynb``, generated from ``reference`` in memory."""
    template = strip_solutions(reference.read_text(encoding="utf-8"), reference)
    return {f"{module}.py": template, f"{module}.ipynb": to_notebook(template, module)}


def write(files: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def solution_only_lines(source: str, path: Path) -> set[str]:
    """The stripped lines that occur inside the solution regions of ``source`` and nowhere else in it."""
    lines = source.splitlines()
    inside = {index for region in find_regions(source, path) for index in range(region.begin + 1, region.end)}
    solution = {lines[i].strip() for i in inside}
    rest = {line.strip() for i, line in enumerate(lines) if i not in inside}
    return {line for line in solution - rest if line and not line.startswith("#")}


def leaks(reference: Path, folder: Path) -> list[str]:
    """``file:line: text`` for every line of a solution region found in the files of ``folder``."""
    secret = solution_only_lines(reference.read_text(encoding="utf-8"), reference)
    found = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".py", ".ipynb")):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        found += [f"{path}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
                  if line.strip() in secret]
    return found


def stale_files(files: dict[str, str], folder: Path) -> list[Path]:
    """The files of ``folder`` that differ from what the generator would write now."""
    return [folder / name for name, text in files.items()
            if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text]
