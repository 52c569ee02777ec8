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


def misplaced(module: nn.Module, dtype: torch.dtype, device_type: str) -> list[str]:
    """The parameters of ``module`` not in ``dtype`` on a device of type ``device_type``."""
    return [f"{name} ({param.dtype} on {param.device.type})" for name, param in module.named_parameters()
            if (param.dtype, param.device.type) != (dtype, device_type)]


def unregistered(layers: dict[str, nn.Module]) -> list[str]:
    """The ``A`` and ``B`` of these LoRA layers that are not ``nn.Parameter``s registered on their layer.

    ``.to()`` on a Parameter that changes its dtype or device returns a plain tensor: set
    around nn.Module's check, it computes like the parameter but the optimiser never sees it.
    """
    return [f"{name}.{tensor}" for name, layer in layers.items() for tensor in ("A", "B")
            if not (isinstance(getattr(layer, tensor, None), nn.Parameter)
                    and dict(layer.named_parameters(recurse=False)).get(tensor) is getattr(layer, tensor))]
