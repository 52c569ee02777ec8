"""How the suite states a broken rule: which rule, what was expected, what was found."""

import pytest
import torch
from torch import nn


def expect(ok, rule: str, expected, found) -> None:
    """Fail the test, without a traceback of the test's own code, unless ``ok``."""
    if not ok:
        pytest.fail(f"{rule}\n  expected: {expected}\n  found:    {found}", pytrace=False)


def shape(tensor) -> str:
    return str(tuple(tensor.shape)) if isinstance(tensor, torch.Tensor) else f"{type(tensor).__name__} (not a tensor)"


def max_difference(a: torch.Tensor, b: torch.Tensor) -> str:
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} instead of {tuple(b.shape)}"
    return f"largest difference {(a.double() - b.double()).abs().max().item():.3g}"


def close(a, b, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol)


def modules_of_type(model: nn.Module, cls) -> dict[str, nn.Module]:
    return {name: module for name, module in model.named_modules() if isinstance(module, cls)}


def names(items, limit: int = 6) -> str:
    items = sorted(items)
    shown = ", ".join(items[:limit])
    return f"{shown}, ... ({len(items)} in all)" if len(items) > limit else shown or "none"
