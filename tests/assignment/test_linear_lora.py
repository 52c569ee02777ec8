"""LinearLoRA: keeps the pretrained layer, adds a LoRALayer that follows its dtype and device."""

import pytest
import torch
import torch.nn.functional as F

from .checks import close, equal, expect, max_difference, names, of_kind, shape, tensor, unregistered
from .protocol import Placed


def make_linear(lora, in_features=12, out_features=7, dtype=torch.float32, device="cpu"):
    """An nn.Linear in the subject, with a weight and a bias the judge drew (and so knows): (layer, W, b)."""
    if device == "meta":
        return lora.builtin("linear", in_features, out_features, dtype=dtype, device="meta"), None, None
    weight = torch.randn(out_features, in_features, dtype=dtype) / in_features ** 0.5
    bias = torch.randn(out_features, dtype=dtype)
    linear = lora.builtin("linear", in_features, out_features, dtype=dtype, device=device,
                          weight=Placed(weight, device), bias_values=Placed(bias, device))
    return linear, weight, bias


def test_keeps_the_very_linear_layer(lora):
    linear, weight, bias = make_linear(lora)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8)
    kept = wrapped.get("linear", None)
    expect(kept is linear,
           "LinearLoRA: `linear` is the very nn.Linear object passed in (not a copy, not a new layer)",
           "wrapped.linear is linear", getattr(kept, "type", type(kept).__name__))
    found = linear.tensors()
    expect(equal(found.get("weight"), weight) and equal(found.get("bias"), bias),
           "LinearLoRA: the wrapped layer's weight and bias are not changed or re-initialised",
           "the same weight and bias as before wrapping", "changed values")


def test_builds_a_lora_layer_for_the_linear(lora):
    wrapped = lora.LinearLoRA(make_linear(lora, 12, 7)[0], rank=4, alpha=10)
    layer = wrapped.get("lora", None)
    expect("lora" in of_kind(wrapped, "LoRALayer"),
           "LinearLoRA: `lora` is a LoRALayer(linear.in_features, linear.out_features, rank, alpha, dropout)",
           "a LoRALayer", getattr(layer, "type", type(layer).__name__))
    found = (shape(layer.get("A", None)), shape(layer.get("B", None)), layer.get("scaling", None))
    expect(found == ("(12, 4)", "(4, 7)", 2.5),
           "LinearLoRA(nn.Linear(12, 7), rank=4, alpha=10): A is (in_features, rank), B is (rank, out_features), "
           "scaling is alpha / rank", ("(12, 4)", "(4, 7)", 2.5), found)


def test_output_equals_the_linear_right_after_wrapping(lora, device):
    linear, weight, bias = make_linear(lora, device=device.type)
    x = torch.randn(2, 5, 12)
    expected = F.linear(x, weight, bias)
    found = lora.LinearLoRA(linear, rank=4, alpha=8)(Placed(x, device.type))
    same = equal(found, expected) if device.type == "cpu" else close(found, expected)
    expect(same, "LinearLoRA: right after wrapping (B is zero) the output is exactly the wrapped layer's output",
           "identical outputs", max_difference(found, expected))


@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 5)], ids=["1-D", "2-D", "3-D"])
def test_forward_is_linear_plus_lora(lora, device, batch_shape):
    linear, weight, bias = make_linear(lora, device=device.type)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=6)
    A, B = torch.randn(12, 4), torch.randn(4, 7)
    wrapped.assign("lora.A", A)
    wrapped.assign("lora.B", B)
    x = torch.randn(*batch_shape, 12)
    expected = F.linear(x, weight, bias) + 1.5 * x @ A @ B
    found = wrapped(Placed(x, device.type))
    expect(close(found, expected, atol=1e-4),
           f"LinearLoRA.forward: linear(x) + scaling * x @ A @ B for x of shape {tuple(x.shape)}",
           "values within 1e-4", max_difference(found, expected))


def test_gradients_reach_the_input_through_both_paths(lora):
    """The judge computes the input's gradient itself: upstream @ (W + scaling * (A @ B).T)."""
    linear, weight, _ = make_linear(lora)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=6)  # scaling 1.5
    A, B = torch.randn(12, 4), torch.randn(4, 7)
    wrapped.assign("lora.A", A)
    wrapped.assign("lora.B", B)
    x = lora.builtin("keep", Placed(torch.randn(3, 12), requires_grad=True), keep=True)
    upstream = torch.randn(3, 7)
    wrapped.call("__call__", x, keep=True).backward(upstream)
    expected = upstream @ (weight + 1.5 * (A @ B).T)
    found = x.get("grad", None)
    expect(close(found, expected, atol=1e-4),
           "LinearLoRA: gradients reach x through both paths, linear and lora (no .detach() on the LoRA path)",
           "the gradient of linear(x) + lora(x) within 1e-4", max_difference(found, expected))


@pytest.mark.parametrize("trainable", [True, False], ids=["trainable", "frozen"])
def test_leaves_requires_grad_as_it_was(lora, trainable):
    linear, _, _ = make_linear(lora)
    linear.call("requires_grad_", trainable)
    lora.LinearLoRA(linear, rank=4, alpha=8)
    found = {p["name"]: p["requires_grad"] for p in linear.parameters()}
    expect(found == {"weight": trainable, "bias": trainable},
           "LinearLoRA: freezing is not its job: every parameter of linear keeps its requires_grad",
           f"weight and bias {'trainable' if trainable else 'frozen'}, as before wrapping", found)


def test_dropout_only_on_the_lora_path(lora):
    linear, weight, bias = make_linear(lora)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8, dropout=0.9).call("train")
    x = torch.randn(4, 12)
    found = wrapped(x)  # B is still zero: whatever dropout does to the LoRA path adds nothing
    expected = F.linear(x, weight, bias)
    expect(equal(found, expected),
           "LinearLoRA: dropout acts on the LoRA path only; the pretrained layer sees the input unchanged",
           "linear(x) exactly, in training mode, while B is zero", max_difference(found, expected))


def assert_follows(lora, linear, dtype, device_type):
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8)
    expected = (str(dtype).removeprefix("torch."), device_type)
    rule = "LinearLoRA: the LoRA parameters sit in the dtype and on the device of linear.weight"
    registered = {p["name"]: p for p in wrapped.parameters()}
    for name in ("A", "B"):
        info = registered.get(f"lora.{name}")
        found = (info["dtype"], info["device"]) if info else ("none", "nowhere: no such parameter")
        expect(found == expected, rule, f"{name} with dtype {expected[0]} on {expected[1]}",
               f"dtype {found[0]} on {found[1]}")
    plain = unregistered(lora, wrapped, ["lora"])
    expect(not plain, f"{rule}, still nn.Parameters registered on the LoRALayer (so that they train)",
           "A and B registered parameters", f"plain tensors or unregistered: {names(plain)}")
    return wrapped


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_lora_follows_the_dtype(lora, dtype):
    wrapped = assert_follows(lora, make_linear(lora, dtype=dtype)[0], dtype, "cpu")
    rule = "LinearLoRA: a layer in another dtype still runs in that dtype"
    found = tensor(wrapped(torch.randn(3, 12, dtype=dtype)), rule)
    expect(found.dtype == dtype, rule, dtype, found.dtype)


def test_lora_follows_the_device(lora):
    assert_follows(lora, make_linear(lora, device="meta")[0], torch.float32, "meta")  # meta stands in for a GPU


@pytest.mark.cuda
def test_lora_follows_a_cuda_layer(lora):
    wrapped = assert_follows(lora, make_linear(lora, device="cuda")[0], torch.float32, "cuda")
    rule = "LinearLoRA: a layer on the GPU runs on the GPU"
    found = wrapped.call("__call__", Placed(torch.randn(3, 12), "cuda"), keep=True)
    expect(found.get("device.type", None) == "cuda", rule, "cuda", found.get("device.type", None))
