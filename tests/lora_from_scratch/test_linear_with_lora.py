"""LinearWithLoRA: the very linear layer, a LoRALayer of its sizes, and linear(x) + lora(x).

The wrapper is judged against its own LoRALayer (what its ``lora`` computes), so that a LoRALayer with
another formula costs the LoRALayer's tests, not these.
"""

import torch
import torch.nn.functional as F

from ..judging.checks import arguments_of, close, drawn_linear, equal, expect, max_difference, of_kind, shape
from ..judging.protocol import Placed


def wrap(lora, linear, rank=4, alpha=2.0):
    """``LinearWithLoRA(linear, rank, alpha)``, after checking there is a wrapper to judge: a ``lora`` that is a
    LoRALayer holding A and B (a wrapper without one is no LoRA, whatever else it keeps)."""
    wrapped = lora.LinearWithLoRA(linear, rank, alpha)
    registered = {p["name"] for p in wrapped.parameters()}
    missing = [f"lora.{name}" for name in ("A", "B") if f"lora.{name}" not in registered]
    expect("lora" in of_kind(wrapped, "LoRALayer") and not missing,
           "LinearWithLoRA: `lora` is a LoRALayer with parameters A and B (every other rule of the wrapper is judged "
           "with it; if your LoRALayer fails its own tests, fix those first)", "wrapped.lora.A and wrapped.lora.B",
           f"missing: {', '.join(missing)}" if missing else "no LoRALayer `lora`")
    return wrapped


def test_keeps_the_very_linear_layer_unchanged(lora):
    linear, weight, bias = drawn_linear(lora)
    wrapped = wrap(lora, linear)
    kept = wrapped.get("linear", None)
    expect(kept is linear, "LinearWithLoRA: `linear` is the very nn.Linear passed in (not a copy, not a new layer)",
           "wrapped.linear is linear", getattr(kept, "type", type(kept).__name__))
    found = linear.tensors()
    expect(equal(found.get("weight"), weight) and equal(found.get("bias"), bias),
           "LinearWithLoRA leaves the wrapped layer's weight and bias as they were", "the same values",
           "changed values")


def test_builds_one_lora_layer_of_the_linear_sizes(lora):
    lora.builtin("spy", "LoRALayer")
    wrapped = lora.LinearWithLoRA(drawn_linear(lora, 12, 7)[0], 3, 4.0)
    layer = wrapped.get("lora", None)
    expect("lora" in of_kind(wrapped, "LoRALayer"), "LinearWithLoRA: `lora` is a LoRALayer", "a LoRALayer",
           getattr(layer, "type", type(layer).__name__))
    calls = [arguments_of(call, ("in_dim", "out_dim", "rank", "alpha")) for call in lora.builtin("calls", "LoRALayer")]
    expected = {"in_dim": 12, "out_dim": 7, "rank": 3, "alpha": 4.0}
    expect(calls == [expected], "LinearWithLoRA(nn.Linear(12, 7), rank=3, alpha=4.0) builds one "
           "LoRALayer(linear.in_features, linear.out_features, rank, alpha)", [expected], calls)


def test_forward_is_linear_plus_its_lora(lora, device):
    linear, weight, bias = drawn_linear(lora, device=device.type)
    wrapped = wrap(lora, linear)
    wrapped.assign("lora.B", Placed(torch.randn(4, 7), device.type))  # a non-zero update to see
    x = torch.randn(2, 5, 12)
    update = wrapped.get("lora")(Placed(x, device.type))
    expect(isinstance(update, torch.Tensor) and update.shape == (2, 5, 7) and bool(update.abs().sum() > 0),
           "LinearWithLoRA is judged through its LoRALayer, which gives a non-zero update of shape (..., 7) once B "
           "is non-zero (see the LoRALayer tests)", "a non-zero (2, 5, 7) tensor", shape(update))
    found, expected = wrapped(Placed(x, device.type)), F.linear(x, weight, bias) + update
    expect(close(found, expected), "LinearWithLoRA.forward(x) is linear(x) + lora(x)", "values within 1e-5",
           max_difference(found, expected))


def test_lora_follows_the_linear_dtype(lora):
    wrapped = wrap(lora, drawn_linear(lora, dtype=torch.float64)[0])
    found = {p["name"]: p["dtype"] for p in wrapped.parameters() if p["name"].startswith("lora.")}
    expect(found and set(found.values()) == {"float64"}, "LinearWithLoRA puts its LoRALayer in the dtype of "
           "linear.weight (a float64 layer gets a float64 A and B)", "float64", found)
