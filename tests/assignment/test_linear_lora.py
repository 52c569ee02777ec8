"""LinearLoRA: keeps the pretrained layer, adds a LoRALayer that follows its dtype and device.

The wrapper is judged against its own ``lora``: what it gives the LoRALayer's constructor (a
spy records it), and ``linear(x) + lora(x)`` with the ``lora(x)`` its own LoRALayer computes.
So a LoRALayer with another scaling or no dropout costs the wrapper nothing. What the wrapper
cannot be judged without (the contract's one dependency here): a ``lora`` that is a LoRALayer
holding ``A`` and ``B``, whose output changes when ``B`` does.
"""

import pytest
import torch
import torch.nn.functional as F

from ..judging.checks import close, drawn_linear, equal, expect, max_difference, names, of_kind, shape, tensor
from ..judging.protocol import Placed
from .assets import CONVENTIONS
from .checks import unregistered


def wrap(lora, linear, rank=4, alpha=8, **kwargs):
    """``LinearLoRA(linear, ...)``, after checking that there is something to judge: a ``lora`` that is a LoRALayer
    holding A and B."""
    wrapped = lora.LinearLoRA(linear, rank, alpha, **kwargs)
    registered = {p["name"] for p in wrapped.parameters()}
    missing = [f"lora.{name}" for name in ("A", "B") if f"lora.{name}" not in registered]
    expect("lora" in of_kind(wrapped, "LoRALayer") and not missing,
           "LinearLoRA: `lora` is a LoRALayer with parameters A and B (every other rule of the wrapper is judged "
           "through it; if your LoRALayer fails its own tests, fix those first)",
           "wrapped.lora.A and wrapped.lora.B", f"missing: {names(missing)}" if missing else "no LoRALayer `lora`")
    return wrapped


def own_lora(wrapped, x, device_type="cpu") -> torch.Tensor:
    """What the wrapper's own LoRALayer computes for ``x``; the test fails (naming the LoRALayer) if it gives nothing
    to judge the wrapper by: B was set non-zero, so its output must not be zero."""
    found = wrapped.get("lora")(Placed(x, device_type))
    rule = ("LinearLoRA is judged against its own lora(x), which must give a non-zero tensor of shape "
            "(..., out_features) once B is non-zero (see the LoRALayer tests)")
    expect(isinstance(found, torch.Tensor) and found.shape[:-1] == x.shape[:-1] and bool(found.abs().sum() > 0),
           rule, "a non-zero update", shape(found))
    return found


def test_keeps_the_very_linear_layer(lora):
    linear, weight, bias = drawn_linear(lora)
    wrapped = wrap(lora, linear)
    kept = wrapped.get("linear", None)
    expect(kept is linear,
           "LinearLoRA: `linear` is the very nn.Linear object passed in (not a copy, not a new layer)",
           "wrapped.linear is linear", getattr(kept, "type", type(kept).__name__))
    found = linear.tensors()
    expect(equal(found.get("weight"), weight) and equal(found.get("bias"), bias),
           "LinearLoRA: the wrapped layer's weight and bias are not changed or re-initialised",
           "the same weight and bias as before wrapping", "changed values")


# the contract's order; the packs without a dropout stop at alpha
LORA_LAYER_PARAMETERS = ("in_dim", "out_dim", "rank", "alpha", "dropout")[:5 if CONVENTIONS.dropout else 4]
DROPOUT = {"dropout": 0.25} if CONVENTIONS.dropout else {}


def constructed_with(call: dict) -> dict:
    """A recorded constructor call as the contract names its arguments (``dropout`` 0.0 when not given)."""
    given = dict(zip(LORA_LAYER_PARAMETERS, call["args"], strict=False))
    given.update({k: v for k, v in call["kwargs"].items() if k in LORA_LAYER_PARAMETERS})
    return {"dropout": 0.0, **given} if CONVENTIONS.dropout else given


def test_builds_a_lora_layer_for_the_linear(lora):
    lora.builtin("spy", "LoRALayer")
    wrapped = lora.LinearLoRA(drawn_linear(lora, 12, 7)[0], 4, 10, *DROPOUT.values())
    layer = wrapped.get("lora", None)
    signature = ", ".join(("linear.in_features", "linear.out_features", *LORA_LAYER_PARAMETERS[2:]))
    expect("lora" in of_kind(wrapped, "LoRALayer"), f"LinearLoRA: `lora` is a LoRALayer({signature})",
           "a LoRALayer", getattr(layer, "type", type(layer).__name__))
    calls = [constructed_with(call) for call in lora.builtin("calls", "LoRALayer")]
    expected = {"in_dim": 12, "out_dim": 7, "rank": 4, "alpha": 10, **DROPOUT}
    given = ", ".join(("nn.Linear(12, 7)", "rank=4", "alpha=10", *(f"{k}={v}" for k, v in DROPOUT.items())))
    expect(calls == [expected], f"LinearLoRA({given}) builds one LoRALayer({signature})", [expected], calls)


def test_output_equals_the_linear_right_after_wrapping(lora, device):
    linear, weight, bias = drawn_linear(lora, device=device.type)
    x = torch.randn(2, 5, 12)
    expected = F.linear(x, weight, bias)
    wrapped = wrap(lora, linear)
    wrapped.assign("lora.B", torch.zeros(4, 7))  # as a LoRALayer starts (its own tests judge that it does)
    found = wrapped(Placed(x, device.type))
    same = equal(found, expected) if device.type == "cpu" else close(found, expected)
    expect(same, "LinearLoRA: while B is zero (as right after wrapping) the output is exactly the wrapped layer's "
           "output",
           "identical outputs", max_difference(found, expected))


@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 5)], ids=["1-D", "2-D", "3-D"])
def test_forward_is_linear_plus_lora(lora, device, batch_shape):
    linear, weight, bias = drawn_linear(lora, device=device.type)
    wrapped = wrap(lora, linear, rank=4, alpha=6).call("eval")
    wrapped.assign("lora.A", torch.randn(12, 4))
    wrapped.assign("lora.B", torch.randn(4, 7))
    x = torch.randn(*batch_shape, 12)
    expected = F.linear(x, weight, bias) + own_lora(wrapped, x, device.type)
    found = wrapped(Placed(x, device.type))
    expect(close(found, expected, atol=1e-4),
           f"LinearLoRA.forward: linear(x) + lora(x) for x of shape {tuple(x.shape)}",
           "values within 1e-4 of linear(x) + its own lora(x)", max_difference(found, expected))


def test_forward_in_training_mode_adds_its_lora(lora):
    """In training mode, with the random generators seeded alike for both calls: the wrapper's output is linear(x)
    plus what its own LoRALayer gives (with whatever dropout it draws), not a low-rank path of its own."""
    linear, weight, bias = drawn_linear(lora)
    dropout = {"dropout": 0.5} if CONVENTIONS.dropout else {}
    wrapped = wrap(lora, linear, rank=4, alpha=6, **dropout).call("train")
    wrapped.assign("lora.B", torch.randn(4, 7))
    x = torch.randn(16, 12)
    lora.builtin("seed", 7)
    update = own_lora(wrapped, x)
    lora.builtin("seed", 7)
    found = wrapped(x)
    expected = F.linear(x, weight, bias) + update
    expect(close(found, expected, atol=1e-4),
           "LinearLoRA.forward in training mode: linear(x) + lora(x), its own LoRALayer computing the update "
           "(and its dropout)", "values within 1e-4 of linear(x) + lora(x)", max_difference(found, expected))


def test_gradients_reach_the_input_through_both_paths(lora):
    """The input's gradient is upstream @ W, which the judge computes, plus what backpropagating through the
    wrapper's own lora gives."""
    linear, weight, _ = drawn_linear(lora)
    wrapped = wrap(lora, linear, rank=4, alpha=6).call("eval")
    wrapped.assign("lora.A", torch.randn(12, 4))
    wrapped.assign("lora.B", torch.randn(4, 7))
    inputs, upstream = torch.randn(3, 12), torch.randn(3, 7)
    alone = lora.builtin("keep", Placed(inputs, requires_grad=True), keep=True)
    wrapped.get("lora").call("__call__", alone, keep=True).backward(upstream)
    through_lora = tensor(alone.get("grad", None), "the wrapper's own lora(x) passes a gradient back to x "
                          "(see the LoRALayer tests)")
    x = lora.builtin("keep", Placed(inputs, requires_grad=True), keep=True)
    wrapped.call("__call__", x, keep=True).backward(upstream)
    expected = upstream @ weight + through_lora
    found = x.get("grad", None)
    expect(close(found, expected, atol=1e-4),
           "LinearLoRA: gradients reach x through both paths, linear and lora (no .detach() on the LoRA path)",
           "the gradient of linear(x) + lora(x) within 1e-4", max_difference(found, expected))


@pytest.mark.parametrize("trainable", [True, False], ids=["trainable", "frozen"])
def test_leaves_requires_grad_as_it_was(lora, trainable):
    linear, _, _ = drawn_linear(lora)
    linear.call("requires_grad_", trainable)
    wrap(lora, linear)
    found = {p["name"]: p["requires_grad"] for p in linear.parameters()}
    expect(found == {"weight": trainable, "bias": trainable},
           "LinearLoRA: freezing is not its job: every parameter of linear keeps its requires_grad",
           f"weight and bias {'trainable' if trainable else 'frozen'}, as before wrapping", found)


@pytest.mark.convention(dropout=True)
def test_dropout_only_on_the_lora_path(lora):
    linear, weight, bias = drawn_linear(lora)
    wrapped = wrap(lora, linear, dropout=0.9).call("train")
    wrapped.assign("lora.B", torch.zeros(4, 7))
    x = torch.randn(4, 12)
    found = wrapped(x)  # B is zero: whatever dropout does to the LoRA path adds nothing
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
    wrapped = assert_follows(lora, drawn_linear(lora, dtype=dtype)[0], dtype, "cpu")
    rule = "LinearLoRA: a layer in another dtype still runs in that dtype"
    found = tensor(wrapped(torch.randn(3, 12, dtype=dtype)), rule)
    expect(found.dtype == dtype, rule, dtype, found.dtype)


def test_lora_follows_the_device(lora):
    assert_follows(lora, drawn_linear(lora, device="meta")[0], torch.float32, "meta")  # meta stands in for a GPU


@pytest.mark.cuda
def test_lora_follows_a_cuda_layer(lora):
    wrapped = assert_follows(lora, drawn_linear(lora, device="cuda")[0], torch.float32, "cuda")
    rule = "LinearLoRA: a layer on the GPU runs on the GPU"
    found = wrapped.call("__call__", Placed(torch.randn(3, 12), "cuda"), keep=True)
    expect(found.get("device.type", None) == "cuda", rule, "cuda", found.get("device.type", None))
