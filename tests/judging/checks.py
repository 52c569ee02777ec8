"""How a suite states a broken rule, and the judge's readings of what the subject answered.

Everything here runs in the judge, on data: what the subject sent back is never trusted
to be of the type asked for, so each reading says in words what it found instead.
"""

import pytest
import torch
from torch import allclose as _allclose  # bound now: a student's run shares its process with the submission,
from torch import equal as _equal  # which may replace torch.allclose or torch.equal (the grader's never does)


def expect(ok, rule: str, expected, found) -> None:
    """Fail the test, without a traceback of the test's own code, unless ``ok``."""
    if not ok:
        pytest.fail(f"{rule}\n  expected: {expected}\n  found:    {found}", pytrace=False)


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return getattr(value, "type", None) or type(value).__name__


def shape(tensor) -> str:
    return str(tuple(tensor.shape)) if isinstance(tensor, torch.Tensor) else f"{describe(tensor)} (not a tensor)"


def tensor(value, rule: str) -> torch.Tensor:
    """``value`` if it is a tensor; else the test fails, saying what came instead."""
    expect(isinstance(value, torch.Tensor), rule, "a tensor", describe(value))
    return value


def max_difference(a, b: torch.Tensor) -> str:
    if not isinstance(a, torch.Tensor):
        return f"{describe(a)} instead of a tensor"
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} instead of {tuple(b.shape)}"
    if a.numel() == 0:
        return "empty tensors"
    return f"largest difference {(a.double() - b.double()).abs().max().item():.3g}"


def close(a, b, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype
            and bool(_allclose(a, b, atol=atol, rtol=rtol)))


def equal(a, b) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and bool(_equal(a, b))


def names(items, limit: int = 6) -> str:
    items = sorted(items)
    shown = ", ".join(items[:limit])
    return f"{shown}, ... ({len(items)} in all)" if len(items) > limit else shown or "none"


def of_kind(model, kind: str) -> dict[str, dict]:
    """The submodules of a subject's model that are instances of ``kind`` (``LinearLoRA``, ``nn.Linear``)."""
    return {m["name"]: m for m in model.modules(kind) if kind in m["kinds"]}


def arguments_of(call: dict, parameters: tuple[str, ...]) -> dict:
    """A constructor call a spy in the subject recorded (``{"args": [...], "kwargs": {...}}``), its arguments named
    as the contract's ``parameters`` name them, in their order; others are left out."""
    given = dict(zip(parameters, call["args"], strict=False))
    given.update({key: value for key, value in call["kwargs"].items() if key in parameters})
    return given


def drawn_linear(lora, in_features=12, out_features=7, dtype=torch.float32, device="cpu"):
    """An nn.Linear in the subject, with a weight and a bias the judge drew (and so knows): (layer, W, b); on the
    meta device, without values: (layer, None, None)."""
    from .protocol import Placed

    if device == "meta":
        return lora.builtin("linear", in_features, out_features, dtype=dtype, device="meta"), None, None
    weight = torch.randn(out_features, in_features, dtype=dtype) / in_features ** 0.5
    bias = torch.randn(out_features, dtype=dtype)
    linear = lora.builtin("linear", in_features, out_features, dtype=dtype, device=device,
                          weight=Placed(weight, device), bias_values=Placed(bias, device))
    return linear, weight, bias
