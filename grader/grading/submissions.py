"""Find submissions on disk and take from each only the module the assignment asks for.

A submission is the assignment's module (``lora_bert.py`` for lora-bert: the pack's
``file_names``) under any name, a ``.ipynb``, a ``.zip`` (as far as the pack's ``formats``
take them), or a folder holding the module or its notebook. Any other folder is a folder of
submissions, each entry named after its file or folder. Only the module is copied into the
grading workspace: a ``conftest.py`` or ``torch.py`` handed in beside it is
left behind and named in the feedback.
"""

import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".ipynb", ".zip")  # every format a pack may take; its spec's ``formats`` choose among them
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024


class SubmissionError(ValueError):
    """A path given on the command line that holds no submission."""


@dataclass(frozen=True)
class Submission:
    name: str  # the results folder's name
    path: Path


@dataclass
class Module:
    """The module taken from a submission, or why there is none."""

    file: Path | None  # the copy in the workspace, under the module's own name (lora_bert.py, lora_bert.ipynb)
    ignored: list[str] = field(default_factory=list)  # other files handed in, left behind
    problem: str | None = None


def is_single_submission(path: Path, names: tuple[str, ...], suffixes: tuple[str, ...] = SUFFIXES) -> bool:
    if path.is_dir():
        return any((path / name).is_file() for name in names)
    return path.suffix in suffixes


def _expected(suffixes: tuple[str, ...]) -> str:
    return f"expected {', '.join(suffixes)} or a folder"


def safe_name(text: str) -> str:
    """A results folder's name: the letters and digits of any script kept (in NFC, as macOS writes them
    decomposed), what a file system or a shell would trip on (separators, spaces, quotes) turned into ``_``."""
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "submission"


def _skip_reason(entry: Path, out: Path | None, suffixes: tuple[str, ...] = SUFFIXES) -> str | None:
    """Why an entry of a class folder is not a submission; None when it is one."""
    if out is not None and entry.resolve() == out.resolve():
        return "the output folder"
    if entry.name.startswith((".", "__")):
        return "hidden"
    if entry.is_dir():
        return None if any(entry.iterdir()) else "an empty folder"
    return None if entry.suffix in suffixes else \
        f"not a submission ({entry.suffix or 'no suffix'}: {_expected(suffixes)})"


def discover(paths: list[Path], names: tuple[str, ...], out: Path | None = None, suffixes: tuple[str, ...] = SUFFIXES
             ) -> tuple[list[Submission], list[tuple[Path, str]]]:
    """The submissions named by ``paths`` (``names``: what the module may be called, the pack's ``file_names``;
    ``suffixes``: the files it takes, the pack's ``suffixes``), in a stable order, with unique names that differ in
    more than
    case (a case-insensitive disk would merge them); and the entries left out, each with the reason."""
    found, skipped = [], []
    for path in map(Path, paths):
        if not path.exists():
            raise SubmissionError(f"{path}: no such file or folder")
        if is_single_submission(path, names, suffixes):
            found.append(path)
        elif path.is_dir():
            reasons = {entry: _skip_reason(entry, out, suffixes) for entry in sorted(path.iterdir())}
            entries = [entry for entry, reason in reasons.items() if reason is None]
            if not entries:
                raise SubmissionError(f"{path}: a folder with no submissions in it")
            found += entries
            skipped += [(entry, reason) for entry, reason in reasons.items() if reason not in (None, "hidden")]
        else:
            raise SubmissionError(f"{path}: not a submission ({_expected(suffixes)})")
    submissions, taken = [], set()
    for path in found:
        name = safe_name(path.stem if path.is_file() else path.name)
        if name.casefold() in taken:
            name = safe_name(path.name)
        base, number = name, 1
        while name.casefold() in taken:
            number += 1
            name = f"{base}_{number}"
        taken.add(name.casefold())
        submissions.append(Submission(name, path))
    return submissions, skipped


def _choose(files: list[Path], root: Path, names: tuple[str, ...]) -> tuple[Path | None, list[str]]:
    """The module among a folder's files (by ``names``: the Python file first, then the notebook), and the rest."""
    by_depth = sorted(files, key=lambda f: (len(f.relative_to(root).parts), str(f)))
    chosen = next((f for name in names for f in by_depth if f.name == name), None)
    if chosen is None:
        candidates = [f for f in by_depth if f.suffix in (".py", ".ipynb")]
        chosen = candidates[0] if len(candidates) == 1 else None
    return chosen, [str(f.relative_to(root)) for f in by_depth if f != chosen]


def _unzip(archive: Path, into: Path) -> Path:
    """Extract safely: no paths outside ``into``, no more than MAX_UNZIPPED_BYTES."""
    with zipfile.ZipFile(archive) as zipped:
        members = [m for m in zipped.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise SubmissionError(f"{archive.name} unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
        for member in members:
            target = (into / member.filename).resolve()
            if not target.is_relative_to(into.resolve()):
                raise SubmissionError(f"{archive.name}: {member.filename!r} points outside the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zipped.read(member))
    return into


def take_module(submission: Submission, workspace: Path, names: tuple[str, ...],
                suffixes: tuple[str, ...] = SUFFIXES) -> Module:
    """Copy the submission's module into ``workspace`` under its canonical name (``names``: the Python file's,
    the notebook's); a file of a format the assignment does not take (``suffixes``) is a problem, not a module."""
    if submission.path.is_file() and submission.path.suffix not in suffixes:
        return Module(None, problem=f"a {submission.path.suffix or 'file without suffix'} submission: this "
                      f"assignment takes {', '.join(suffixes)} or a folder")
    unpacked = workspace / "unzipped"
    try:
        path = _unzip(submission.path, unpacked) if submission.path.suffix == ".zip" else submission.path
        if path.is_dir():
            files = [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
            chosen, ignored = _choose(files, path, names)
        else:
            chosen, ignored = path, []
        if chosen is None:
            return Module(None, ignored, f"no {' or '.join(names)} in the submission")
        module = names[0].rpartition(".")[0]
        target = workspace / (f"{module}.ipynb" if chosen.suffix == ".ipynb" else f"{module}.py")
        shutil.copyfile(chosen, target)
        return Module(target, ignored)
    except (SubmissionError, zipfile.BadZipFile, OSError) as error:
        return Module(None, problem=f"the submission could not be opened: {error}")
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
