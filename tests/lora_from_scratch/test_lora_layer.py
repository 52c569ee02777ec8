"""LoRALayer: A and B, their start, the update alpha * x @ A @ B and its gradients."""

import pytest
import torch

from ..judging.checks import close, describe, expect, max_difference, shape, tensor
from ..judging.protocol import Placed


def layer_with(lora, A: torch.Tensor, B: torch.Tensor, alpha: float, device: str = "cpu"):
    """A LoRALayer of A's and B's shapes, dtype and device, whose A and B the judge set (and so knows)."""
    layer = lora.LoRALayer(A.shape[0], B.shape[1], A.shape[1], alpha).call("to", device, A.dtype)
    layer.assign("A", Placed(A, device))
    layer.assign("B", Placed(B, device))
    return layer


@pytest.mark.parametrize("alpha", [16, 0.5, 3])
def test_alpha_is_stored_as_given(lora, alpha):
    found = lora.LoRALayer(8, 5, 2, alpha).get("alpha", "no attribute `alpha`")
    expect(isinstance(found, int | float) and found == alpha, "LoRALayer: `alpha` is stored as given, as self.alpha",
           alpha, found)


def test_A_and_B_are_parameters_of_their_shapes(lora):
    layer = lora.LoRALayer(8, 5, 3, 16)
    registered = {p["name"]: p for p in layer.parameters()}
    for name, expected in (("A", (8, 3)), ("B", (3, 5))):
        found = layer.get(name, None)
        expect(name in registered and registered[name]["is_parameter"],
               f"LoRALayer: {name} is an nn.Parameter registered on the layer, so that an optimiser trains it",
               "nn.Parameter", describe(found) if found is not None else "no attribute")
        expect(isinstance(found, torch.Tensor) and tuple(found.shape) == expected,
               f"LoRALayer(in_dim=8, out_dim=5, rank=3): {name} has shape {expected}", expected, shape(found))
    expect(sorted(registered) == ["A", "B"], "LoRALayer holds only A and B: no bias, no other parameter",
           "A, B", ", ".join(sorted(registered)) or "none")


def test_B_starts_at_zero_and_A_random(lora):
    first, second = lora.LoRALayer(8, 5, 3, 16), lora.LoRALayer(8, 5, 3, 16)
    rule = "LoRALayer: B starts at zero (the wrapped model starts as the pretrained one), A random and of full rank"
    B, A, other = (tensor(layer.get(name), rule) for layer, name in ((first, "B"), (first, "A"), (second, "A")))
    expect(torch.count_nonzero(B) == 0, rule, "B == 0", f"{torch.count_nonzero(B).item()} non-zero entries")
    full = A.shape == (8, 3) and bool(torch.isfinite(A).all()) and torch.linalg.matrix_rank(A.double()).item() == 3
    expect(full and not torch.equal(A, other), rule, "a finite A of rank 3, another for each new layer",
           f"shape {tuple(A.shape)}, rank {torch.linalg.matrix_rank(A.double()).item()}, "
           f"{'the same' if torch.equal(A, other) else 'a different'} A in a second layer")


@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)], ids=["2-D", "3-D"])
@pytest.mark.parametrize("alpha", [2.5, 16])
def test_forward_is_alpha_x_A_B(lora, device, batch_shape, alpha):
    A, B, x = torch.randn(8, 3), torch.randn(3, 5), torch.randn(*batch_shape, 8)
    found = layer_with(lora, A, B, alpha, device.type)(Placed(x, device.type))
    expected = alpha * x @ A @ B
    expect(close(found, expected), f"LoRALayer.forward is alpha * x @ A @ B (alpha={alpha}, scaled by alpha "
           f"itself, not alpha / rank), of shape {tuple(expected.shape)} for x of shape {tuple(x.shape)}",
           "values within 1e-5", max_difference(found, expected))


def test_forward_reads_A_and_B_at_every_call(lora):
    layer, x = lora.LoRALayer(8, 5, 3, 2.0), torch.randn(4, 8)
    for step in ("first", "second"):
        A, B = torch.randn(8, 3), torch.randn(3, 5)
        layer.assign("A", A)
        layer.assign("B", B)
        found, expected = layer(x), 2.0 * x @ A @ B
        expect(close(found, expected), "LoRALayer.forward computes with the A and B the layer holds at that call",
               f"alpha * x @ A @ B with the {step} A and B set", max_difference(found, expected))


def test_forward_keeps_float64(lora):
    A, B, x = (torch.randn(*size, dtype=torch.float64) for size in ((8, 3), (3, 5), (4, 8)))
    found = layer_with(lora, A, B, 2.0)(x)
    expected = 2.0 * x @ A @ B
    expect(close(found, expected, atol=1e-12, rtol=1e-12), "LoRALayer computes in the dtype of its input and "
           "parameters: a float64 layer keeps float64's precision", "float64 within 1e-12",
           max_difference(found, expected))


def test_gradients_reach_A_B_and_the_input(lora):
    layer = layer_with(lora, torch.randn(8, 3), torch.randn(3, 5), 2.0)
    x = lora.builtin("keep", Placed(torch.randn(4, 8), requires_grad=True), keep=True)
    layer.call("__call__", x, keep=True).call("sum", keep=True).backward()
    for name, grad in (("A", layer.get("A.grad", None)), ("B", layer.get("B.grad", None)), ("x", x.get("grad", None))):
        expect(isinstance(grad, torch.Tensor) and torch.count_nonzero(grad) > 0,
               f"LoRALayer.forward lets a gradient reach {name} (no .detach(), .data or torch.no_grad())",
               f"a non-zero gradient for {name}", "none" if grad is None else "an all-zero gradient")
