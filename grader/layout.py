"""Where the project's pieces live in a checkout, and how the suite's files are laid out elsewhere.

The grader runs from a checkout of this repository. A grading workspace and the
student bundle both need the suite beside the tiny models and the data, in the same
places relative to each other as here. What belongs to one assignment (its reference,
template, suite, rubric) its pack says: ``grader/assignments/pack.py``.
"""

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
JUDGING = TESTS / "judging"  # the judge/subject machinery, the same for every pack
# of tests/: the suite's options and markers, and the judge/subject machinery every pack's suite runs on
SUITE_ROOT_FILES = ("__init__.py", "conftest.py", "options.py", "judging")
TINY_MODELS = ROOT / "tiny_models"
DATA = ROOT / "data"
PYPROJECT = ROOT / "pyproject.toml"


def copy_suite_root(tests: Path, names: tuple[str, ...] = SUITE_ROOT_FILES) -> None:
    """The files of ``tests/`` that the suite below it needs, into ``tests``."""
    tests.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (TESTS / name).is_dir():
            shutil.copytree(TESTS / name, tests / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(TESTS / name, tests / name)


def copy_models_and_data(folder: Path) -> None:
    """The tiny models and the data, under ``folder`` where the suite looks for them."""
    for model in sorted(TINY_MODELS.iterdir()):
        if model.is_dir() and not model.name.startswith("__"):
            shutil.copytree(model, folder / "tiny_models" / model.name)
    (folder / "data").mkdir()
    for table in sorted(DATA.glob("*.csv")):  # every pack's data (reviews.csv, sms_spam.csv), never the scripts
        shutil.copy(table, folder / "data" / table.name)


def project() -> dict:
    """pyproject.toml's ``[project]`` table."""
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)["project"]


STAFF_ONLY = ("jinja2", "matplotlib", "copydetect", "jsonschema")  # reports, similarity, packs: not a student's run


def requirements(students: bool = False, extra: tuple[str, ...] = ()) -> str:
    """The grader's dependencies as a requirements.txt (install torch first, from the index that fits); for
    ``students``, what the suite needs without what only course staff's tools do; ``extra``: a pack's own
    (its spec's ``requires``)."""
    needed = [d for d in project()["dependencies"] if not (students and d.startswith(STAFF_ONLY))]
    return "\n".join([*needed, *extra]) + "\n"
