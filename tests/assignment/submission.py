"""Find a student's ``lora_bert`` and import it, without ever raising.

A submission is untrusted and often broken. Importing it here, inside a fixture and
behind a ``try``, keeps one syntax error or ``sys.exit()`` from breaking the collection
of the whole suite: every test then fails with the import error instead.
"""

import contextlib
import io
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

MODULE_NAME = "lora_bert"
FILENAMES = ("lora_bert.py", "lora_bert.ipynb")


@dataclass
class LoadedSubmission:
    """What importing a submission gave: the module, or why there is none."""

    path: Path
    module: types.ModuleType | None = None
    error: str | None = None  # why the submission could not be imported at all
    cell_errors: list[str] = field(default_factory=list)  # notebook cells that raised
    output: str = ""  # what importing printed


def find_submission(path: Path) -> Path:
    """The file to import: ``path`` itself, or the ``lora_bert.py``/``.ipynb`` in a folder."""
    path = Path(path)
    if path.is_dir():
        for name in FILENAMES:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{path} holds neither {' nor '.join(FILENAMES)}")
    if not path.is_file():
        raise FileNotFoundError(f"no such submission: {path}")
    return path


def load_submission(path: Path) -> LoadedSubmission:
    """Import the submission as the module ``lora_bert``; every failure is recorded, not raised."""
    loaded = LoadedSubmission(Path(path))
    try:
        loaded.path = find_submission(path)
    except FileNotFoundError as error:
        loaded.error = str(error)
        return loaded
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = str(loaded.path)
    sys.modules[MODULE_NAME] = module  # dataclasses and pickle look their module up here
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        if loaded.path.suffix == ".ipynb":
            _exec_notebook(loaded, module)
        else:
            _exec_source(loaded, module, loaded.path.read_bytes(), str(loaded.path))
    loaded.output = printed.getvalue()
    if loaded.error is None:
        loaded.module = module
    return loaded


def _exec_source(loaded: LoadedSubmission, module, source, filename: str) -> str | None:
    """Run ``source`` in the module's namespace; return the error, also stored on ``loaded``."""
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a submission may not end the test run
        loaded.error = _describe(error, filename)
        return loaded.error
    return None


def _exec_notebook(loaded: LoadedSubmission, module) -> None:
    """Run each code cell in order; a failing cell is recorded and the next one still runs."""
    import nbformat

    try:
        notebook = nbformat.read(loaded.path, as_version=4)
    except Exception as error:
        loaded.error = f"{loaded.path.name} is not a readable notebook: {error}"
        return
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        error = _exec_source(loaded, module, python_lines(cell.source), f"{loaded.path.name}, cell {index}")
        if error:
            loaded.cell_errors.append(error)
            loaded.error = None  # what the other cells define still counts


def python_lines(cell_source: str) -> str:
    """A notebook cell without IPython's magics (``%time``, ``%%capture``) and shell lines (``!pip``)."""
    if cell_source.lstrip().startswith("%%"):
        return ""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines()
    )


def _describe(error: BaseException, filename: str) -> str:
    """The error and the submission's own frames of its traceback (the loader's are noise)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    where = "".join(traceback.format_list(frames))
    return f"{where}{''.join(traceback.format_exception_only(error))}".rstrip()
