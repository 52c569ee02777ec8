"""Notice a submission that replaces the functions the tests judge it with.

A submission runs in the same process as the tests, so it could make every check
pass by patching ``torch.allclose``, ``torch.equal``, ``pytest.fail`` or this suite's
own helpers. The suite records those namespaces before the submission is imported
and compares them after the import and after every test: any replaced or deleted
name fails the test, whatever the test itself concluded.
"""

import builtins
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional

WATCHED = {
    "torch": torch,
    "torch.Tensor": torch.Tensor,
    "torch.nn.Module": torch.nn.Module,
    "torch.nn.functional": torch.nn.functional,
    "torch.linalg": torch.linalg,
    "torch.testing": torch.testing,
    "pytest": pytest,
    "builtins": builtins,
}


def watched_namespaces() -> dict:
    """Torch, pytest and builtins, plus every module of this suite (its helpers and its tests)."""
    suite = {name: module for name, module in sys.modules.items()
             if module is not None and name.startswith(__package__ + ".")}
    return {**WATCHED, **suite}


def snapshot(namespaces: dict) -> dict[str, dict[str, object]]:
    """Every public name of each namespace and the object it names (later additions are allowed)."""
    return {label: {name: value for name, value in vars(space).items() if not name.startswith("__")}
            for label, space in namespaces.items()}


TORCH_DIR = str(Path(torch.__file__).parent)


def unchanged(original, current) -> bool:
    """The same object, or torch's own lazy wrapper of it (``torch._compile`` rebinds some functions on first use)."""
    if current is original:
        return True
    code = getattr(current, "__code__", None)
    return (getattr(current, "__wrapped__", None) is original
            and code is not None and code.co_filename.startswith(TORCH_DIR))


def tampered(before: dict[str, dict[str, object]], namespaces: dict) -> list[str]:
    """The names that were replaced or deleted since ``before``."""
    missing = object()
    changed = []
    for label, names in before.items():
        now = vars(namespaces[label])
        changed += [f"{label}.{name}" for name, value in names.items()
                    if not unchanged(value, now.get(name, missing))]
    return changed
