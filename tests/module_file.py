"""A Python file imported by its path, for the files the tests read that are no package's module (the examples'
scripts, a pack's reference)."""

import importlib.util
from pathlib import Path
from types import ModuleType


def load(name: str, path: Path) -> ModuleType:
    """The module ``path`` defines, run once, under ``name`` (never put in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
