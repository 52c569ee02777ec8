"""Find a student's ``lora_bert`` and import it, without ever raising.

A submission is untrusted and often broken. Importing it here, inside a fixture and
behind a ``try``, keeps one syntax error or ``sys.exit()`` from breaking the collection
of the whole suite: every test then fails with the import error instead.
"""

import contextlib
import errno
import io
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

from .conventions import load

MODULE_NAME = load().module  # lora_bert: the module the assignment's pack names (a workspace's, a bundle's)


@dataclass
class LoadedSubmission:
    """What importing a submission gave: the module, or why there is none."""

    path: Path
    module: types.ModuleType | None = None
    error: str | None = None  # why the submission could not be imported at all
    cell_errors: list[str] = field(default_factory=list)  # notebook cells that raised
    output: str = ""  # what importing printed


def find_submission(path: Path, module_name: str = MODULE_NAME) -> Path:
    """The file to import: ``path`` itself, or the module (``lora_bert.py``) or notebook in a folder."""
    path = Path(path)
    if path.is_dir():
        names = (f"{module_name}.py", f"{module_name}.ipynb")
        for name in names:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{path} holds neither {' nor '.join(names)}")
    if not path.is_file():
        raise FileNotFoundError(f"no such submission: {path}")
    return path


def load_submission(path: Path, module_name: str = MODULE_NAME) -> LoadedSubmission:
    """Import the submission as the assignment's module (``lora_bert``); every failure is recorded, not raised."""
    loaded = LoadedSubmission(Path(path))
    try:
        loaded.path = find_submission(path, module_name)
    except FileNotFoundError as error:
        loaded.error = str(error)
        return loaded
    module = types.ModuleType(module_name)
    module.__file__ = str(loaded.path)
    sys.modules[module_name] = module  # dataclasses and pickle look their module up here
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
        filename = f"{loaded.path.name}, cell {index}"
        module.__dict__["get_ipython"] = lambda filename=filename: _Shell(module.__dict__, filename)
        try:
            source = python_source(cell.source)
        except Exception as error:  # IPython's transformers refuse the cell: report it as the cell's error
            loaded.cell_errors.append(f"{filename}: {error}")
            continue
        error = _exec_source(loaded, module, source, filename)
        if error:
            loaded.cell_errors.append(error)
            loaded.error = None  # what the other cells define still counts


def python_source(cell_source: str) -> str:
    """A notebook cell as IPython turns it into Python: ``%%time`` becomes ``get_ipython().run_cell_magic('time',
    '', body)``, ``!pip install x`` ``get_ipython().system('pip install x')``; IPython's own transformers, so that
    a cell means here what it means in Jupyter or Colab."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


class _Shell:
    """What a transformed cell asks of ``get_ipython()``, done as a kernel would where it matters to grading.

    The magics that time, profile or capture a cell or a line run it (``%%time``, ``%%capture``, ``%timeit``);
    every other magic (``%matplotlib``, ``%load_ext``, ``%%html``) and every shell line (``!pip``) does nothing:
    a submission's grade never depends on what they would have installed or shown.
    """

    RUNS_ITS_CODE = frozenset({"time", "timeit", "capture", "prun"})

    def __init__(self, namespace: dict, filename: str):
        self.namespace, self.filename = namespace, filename

    def _run(self, code: str) -> None:
        exec(compile(python_source(code), self.filename, "exec"), self.namespace)

    def run_cell_magic(self, magic: str, line: str, cell: str):
        if magic in self.RUNS_ITS_CODE:
            self._run(cell)

    def run_line_magic(self, magic: str, line: str, *args, **kwargs):
        if magic in self.RUNS_ITS_CODE:
            self._run(line.split(" ", 1)[1] if line.startswith("-") and " " in line else line)

    def system(self, command: str, *args, **kwargs):
        return None

    def getoutput(self, command: str, *args, **kwargs):
        return []


WHERE_TO_WRITE = ("Writing a file was refused. While it is graded, the folder that holds your module is read-only: "
                  "write to the working folder instead (a relative path such as open('cache.txt', 'w'), or "
                  "os.getcwd()).\n")


def _describe(error: BaseException, filename: str) -> str:
    """The error and the submission's own frames of its traceback (the loader's are noise); where a write was
    refused (the grader's sandbox makes the module's folder read-only), where it may write, first: the exception
    stays the last line."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    where = "".join(traceback.format_list(frames))
    refused = isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    return f"{WHERE_TO_WRITE if refused else ''}{where}{''.join(traceback.format_exception_only(error))}".rstrip()
