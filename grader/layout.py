"""Where the project's pieces live in a checkout. The grader runs from a checkout of this repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference" / "lora_bert.py"
TEMPLATE_DIR = ROOT / "student_template"
TESTS = ROOT / "tests"
SUITE = TESTS / "assignment"
TINY_MODELS = ROOT / "tiny_models"
DATA = ROOT / "data"
ASSIGNMENT = ROOT / "ASSIGNMENT.md"
PYPROJECT = ROOT / "pyproject.toml"
