"""LinearLoRA: keeps the pretrained layer, adds a LoRALayer that follows its dtype and device."""

import pytest
import torch
from torch import nn

from .checks import close, expect, max_difference, names, shape, unregistered


def make_linear(in_features=12, out_features=7, **kwargs):
    linear = nn.Linear(in_features, out_features, **kwargs)
    if linear.weight.device.type != "meta":
        with torch.no_grad():
            linear.bias.normal_()
    return linear


def test_keeps_the_very_linear_layer(lora):
    linear = make_linear()
    weight, bias = linear.weight.detach().clone(), linear.bias.detach().clone()
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8)
    expect(getattr(wrapped, "linear", None) is linear,
           "LinearLoRA: `linear` is the very nn.Linear object passed in (not a copy, not a new layer)",
           "wrapped.linear is linear", type(getattr(wrapped, "linear", None)).__name__)
    expect(torch.equal(linear.weight, weight) and torch.equal(linear.bias, bias),
           "LinearLoRA: the wrapped layer's weight and bias are not changed or re-initialised",
           "the same weight and bias as before wrapping", "changed values")


def test_builds_a_lora_layer_for_the_linear(lora):
    wrapped = lora.LinearLoRA(make_linear(12, 7), rank=4, alpha=10)
    layer = getattr(wrapped, "lora", None)
    expect(isinstance(layer, lora.LoRALayer),
           "LinearLoRA: `lora` is a LoRALayer(linear.in_features, linear.out_features, rank, alpha, dropout)",
           "a LoRALayer", type(layer).__name__)
    found = (shape(layer.A), shape(layer.B), getattr(layer, "scaling", None))
    expect(found == ("(12, 4)", "(4, 7)", 2.5),
           "LinearLoRA(nn.Linear(12, 7), rank=4, alpha=10): A is (in_features, rank), B is (rank, out_features), "
           "scaling is alpha / rank", ("(12, 4)", "(4, 7)", 2.5), found)


def test_output_equals_the_linear_right_after_wrapping(lora, device):
    linear = make_linear().to(device)
    x = torch.randn(2, 5, 12, device=device)
    expected = linear(x)
    found = lora.LinearLoRA(linear, rank=4, alpha=8)(x)
    expect(isinstance(found, torch.Tensor) and torch.equal(found, expected),
           "LinearLoRA: right after wrapping (B is zero) the output is exactly the wrapped layer's output",
           "identical outputs", max_difference(found, expected))


@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 5)], ids=["1-D", "2-D", "3-D"])
def test_forward_is_linear_plus_lora(lora, device, batch_shape):
    linear = make_linear().to(device)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=6)
    A, B = torch.randn(12, 4, device=device), torch.randn(4, 7, device=device)
    with torch.no_grad():
        wrapped.lora.A.copy_(A)
        wrapped.lora.B.copy_(B)
    x = torch.randn(*batch_shape, 12, device=device)
    expected = linear(x) + 1.5 * x @ A @ B
    found = wrapped(x)
    expect(close(found, expected, atol=1e-4),
           f"LinearLoRA.forward: linear(x) + scaling * x @ A @ B for x of shape {tuple(x.shape)}",
           "values within 1e-4", max_difference(found, expected))


def test_dropout_only_on_the_lora_path(lora):
    linear = make_linear()
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8, dropout=0.9).train()
    x = torch.randn(4, 12)
    found = wrapped(x)  # B is still zero: whatever dropout does to the LoRA path adds nothing
    expect(torch.equal(found, linear(x)),
           "LinearLoRA: dropout acts on the LoRA path only; the pretrained layer sees the input unchanged",
           "linear(x) exactly, in training mode, while B is zero", max_difference(found, linear(x)))


def assert_follows(lora, linear):
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8)
    expected = (linear.weight.dtype, linear.weight.device.type)
    rule = "LinearLoRA: the LoRA parameters sit in the dtype and on the device of linear.weight"
    for name in ("A", "B"):
        tensor = getattr(wrapped.lora, name)
        found = (tensor.dtype, tensor.device.type)
        expect(found == expected, rule, f"{name} with dtype {expected[0]} on {expected[1]}",
               f"dtype {found[0]} on {found[1]}")
    plain = unregistered({"lora": wrapped.lora})
    expect(not plain, f"{rule}, still nn.Parameters registered on the LoRALayer (so that they train)",
           "A and B registered parameters", f"plain tensors or unregistered: {names(plain)}")
    return wrapped


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_lora_follows_the_dtype(lora, dtype):
    wrapped = assert_follows(lora, make_linear(dtype=dtype))
    x = torch.randn(3, 12, dtype=dtype)
    expect(wrapped(x).dtype == dtype, "LinearLoRA: a layer in another dtype still runs in that dtype",
           dtype, wrapped(x).dtype)


def test_lora_follows_the_device(lora):
    assert_follows(lora, make_linear(device="meta"))  # the meta device stands in for a GPU


@pytest.mark.cuda
def test_lora_follows_a_cuda_layer(lora):
    wrapped = assert_follows(lora, make_linear(device="cuda"))
    x = torch.randn(3, 12, device="cuda")
    expect(wrapped(x).device.type == "cuda", "LinearLoRA: a layer on the GPU runs on the GPU",
           "cuda", wrapped(x).device.type)
