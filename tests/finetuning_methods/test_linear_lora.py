"""LinearLoRA: the very pretrained layer, frozen and unchanged; A and B as bias-free nn.Linear layers of the
layer's sizes (B zero, A random) in its dtype; scaling alpha / rank; pretrained(x) + scaling * B(A(x))."""

import pytest
import torch
import torch.nn.functional as F

from ..judging.checks import close, drawn_linear, equal, expect, max_difference, names, shape, tensor
from ..judging.protocol import Placed
from .assets import CONVENTIONS

PARAMETERS = ["A.weight", "B.weight", "pretrained.bias", "pretrained.weight"]


def wrap(lora, linear, rank=4, alpha=2.0):
    """``LinearLoRA(linear, rank, alpha)``, after checking it holds what every other rule is judged with."""
    wrapped = lora.LinearLoRA(linear, rank, alpha)
    found = sorted(p["name"] for p in wrapped.parameters())
    expect(found == PARAMETERS, "LinearLoRA's parameters are pretrained.weight and pretrained.bias (the layer it "
           "wraps) and A.weight and B.weight (bias-free nn.Linear layers)", names(PARAMETERS), names(found))
    return wrapped


def test_keeps_the_very_pretrained_layer_frozen_and_unchanged(lora):
    linear, weight, bias = drawn_linear(lora)
    wrapped = wrap(lora, linear)
    kept = wrapped.get("pretrained", None)
    expect(kept is linear, "LinearLoRA: `pretrained` is the very nn.Linear passed in (not a copy)",
           "wrapped.pretrained is the layer", getattr(kept, "type", type(kept).__name__))
    flags = {p["name"]: p["requires_grad"] for p in wrapped.parameters()}
    expect(flags == {"A.weight": True, "B.weight": True, "pretrained.bias": False, "pretrained.weight": False},
           "LinearLoRA freezes the pretrained layer's weight and bias; A and B train", "A, B trainable, the rest "
           "frozen", flags)
    found = linear.tensors()
    expect(equal(found.get("weight"), weight) and equal(found.get("bias"), bias),
           "LinearLoRA leaves the pretrained layer's weight and bias as they were", "the same values", "changed")


def test_A_and_B_have_the_layers_sizes_and_B_starts_at_zero(lora):
    wrapped = wrap(lora, drawn_linear(lora, 12, 7)[0], rank=3)
    rule = "LinearLoRA(nn.Linear(12, 7), rank=3): A maps 12 features to 3 (weight (3, 12)), B maps 3 to 7 " \
           "(weight (7, 3)); B starts at zero, A random"
    A, B = tensor(wrapped.get("A.weight"), rule), tensor(wrapped.get("B.weight"), rule)
    expect(A.shape == (3, 12) and B.shape == (7, 3), rule, "(3, 12) and (7, 3)", f"{shape(A)} and {shape(B)}")
    expect(torch.count_nonzero(B) == 0, rule, "B == 0", f"{torch.count_nonzero(B).item()} non-zero entries")
    full = bool(torch.isfinite(A).all()) and torch.linalg.matrix_rank(A.double()).item() == 3
    expect(full, rule, "a finite random A of rank 3", f"rank {torch.linalg.matrix_rank(A.double()).item()}")


@pytest.mark.parametrize(("rank", "alpha"), [(4, 8.0), (2, 3.0)])
def test_forward_is_pretrained_plus_the_scaled_update(lora, device, rank, alpha):
    linear, weight, bias = drawn_linear(lora, device=device.type)
    wrapped = wrap(lora, linear, rank, alpha)
    B = torch.randn(7, rank)
    wrapped.assign("B.weight", Placed(B, device.type))  # a non-zero update to see
    A = tensor(wrapped.get("A.weight"), "LinearLoRA.A.weight").cpu()
    x = torch.randn(2, 5, 12)
    found = wrapped(Placed(x, device.type))
    factor = CONVENTIONS.factor(alpha, rank)
    expected = F.linear(x, weight, bias) + factor * (x @ A.T @ B.T)
    expect(close(found, expected), f"LinearLoRA.forward(x) is pretrained(x) + (alpha / rank) * B(A(x)) "
           f"(rank={rank}, alpha={alpha}: a factor of {factor})", "values within 1e-5", max_difference(found, expected))


def test_gradients_reach_A_and_B(lora):
    wrapped = wrap(lora, drawn_linear(lora)[0])
    wrapped.assign("B.weight", Placed(torch.randn(7, 4)))
    x = lora.builtin("keep", Placed(torch.randn(3, 12)), keep=True)
    wrapped.call("__call__", x, keep=True).call("sum", keep=True).backward()
    for name in ("A", "B"):
        grad = wrapped.get(f"{name}.weight.grad", None)
        expect(isinstance(grad, torch.Tensor) and torch.count_nonzero(grad) > 0,
               f"LinearLoRA.forward lets a gradient reach {name} (no .detach(), .data or torch.no_grad())",
               f"a non-zero gradient for {name}", "none" if grad is None else "an all-zero gradient")


def test_follows_the_pretrained_dtype(lora):
    wrapped = wrap(lora, drawn_linear(lora, dtype=torch.float64)[0])
    found = {p["name"]: p["dtype"] for p in wrapped.parameters() if p["name"][0] in "AB"}
    expect(set(found.values()) == {"float64"}, "LinearLoRA makes A and B in the dtype of pretrained.weight "
           "(a float64 layer gets a float64 A and B)", "float64", found)
