"""merge_lora: the same outputs from plain nn.Linear layers, and the base model's parameter count."""

import math

import pytest
import torch

from .assets import MODEL_NAMES
from .checks import close, equal, expect, head_count, logits, max_difference, misplaced, names, of_kind
from .protocol import Placed

LINEAR = "torch.nn.modules.linear.Linear"


def trained_lora_model(lora, base_model, name, dtype=None):
    """A model with LoRA whose B and biases are non-zero, as after some training (drawn by the judge)."""
    model = base_model(name, dtype=dtype)
    lora.add_lora(model, rank=4, alpha=12)  # scaling 3
    for layer in of_kind(model, "LinearLoRA"):
        B, bias = model.get(f"{layer}.lora.B", None), model.get(f"{layer}.linear.bias", None)
        if isinstance(B, torch.Tensor) and isinstance(bias, torch.Tensor):
            model.assign(f"{layer}.lora.B", 0.05 * torch.randn(B.shape))
            model.assign(f"{layer}.linear.bias", 0.1 * torch.randn(bias.shape))
    return model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_logits_equal_unmerged(lora, base_model, device, name):
    model = trained_lora_model(lora, base_model, name)
    input_ids = torch.randint(5, 95, (4, 16))
    expected = logits(model, input_ids, device)
    lora.merge_lora(model)
    found = logits(model, input_ids, device)
    expect(close(found, expected, atol=1e-5, rtol=0),
           f"merge_lora on {name}: the merged model's logits equal the unmerged model's "
           "(W + scaling * (A @ B).T, bias unchanged)", "within 1e-5", max_difference(found, expected))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_weight_formula(lora, base_model, name):
    """The judge computes each merged weight itself, from the W, A, B and scaling it reads before the merge."""
    model = trained_lora_model(lora, base_model, name)
    before = model.tensors()
    expected, biases = {}, {}
    for layer in of_kind(model, "LinearLoRA"):
        W, A, B = (before.get(f"{layer}.{part}") for part in ("linear.weight", "lora.A", "lora.B"))
        scaling = model.get(f"{layer}.lora.scaling", None)
        if all(isinstance(t, torch.Tensor) for t in (W, A, B)) and isinstance(scaling, int | float):
            expected[layer] = W + scaling * (A @ B).T
            biases[layer] = before.get(f"{layer}.linear.bias")
    lora.merge_lora(model)
    merged = model.tensors()
    for layer, weight in expected.items():
        found = merged.get(f"{layer}.weight")
        expect(close(found, weight, atol=1e-6), f"merge_lora: {layer}.weight becomes W + scaling * (A @ B).T",
               "within 1e-6", max_difference(found, weight))
        found = merged.get(f"{layer}.bias")
        expect(equal(found, biases[layer]), f"merge_lora: {layer}.bias stays as it was",
               "the same bias", max_difference(found, biases[layer]))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merge_leaves_plain_linear_layers_and_the_base_count(lora, base_model, own_model, name):
    model = trained_lora_model(lora, base_model, name)
    wrapped = set(of_kind(model, "LinearLoRA"))
    returned = lora.merge_lora(model)
    expect(returned is model, "merge_lora works in place and returns the model",
           "the same model", getattr(returned, "type", type(returned).__name__))
    types = {m["name"]: m["type"] for m in model.modules()}
    not_plain = [n for n in wrapped if types.get(n) != LINEAR]
    expect(not not_plain, "merge_lora replaces every LinearLoRA by a plain nn.Linear",
           "nn.Linear where each LinearLoRA was", f"something else at {names(not_plain)}")
    base = own_model(name)  # the judge's own copy, body frozen as base_model makes it
    found = model.parameters()
    counts = {"all": (sum(p.numel() for p in base.parameters()), sum(math.prod(p["shape"]) for p in found)),
              "trainable": (head_count([{"name": n, "shape": list(p.shape)} for n, p in base.named_parameters()]),
                            sum(math.prod(p["shape"]) for p in found if p["requires_grad"]))}
    for label, (expected, count) in counts.items():
        expect(count == expected,
               f"merge_lora: the merged model has the base model's {label} parameter count", expected, count)


def test_merge_keeps_no_bias_as_no_bias(lora):
    weight = torch.randn(7, 12)
    linear = lora.builtin("linear", 12, 7, bias=False, weight=Placed(weight))
    model = lora.builtin("sequential", linear)
    wrapped = lora.LinearLoRA(linear, rank=4, alpha=8)
    model.set("0", wrapped)
    wrapped.assign("lora.B", 0.1 * torch.randn(4, 7))
    lora.merge_lora(model)
    found = {p["name"] for p in model.parameters()}
    expect(found == {"0.weight"}, "merge_lora: a layer without a bias stays without one",
           "0.weight alone", names(found))


# How far merged logits may be from unmerged ones. Rounding W + scaling * (A @ B).T to
# bfloat16's 8 bits of mantissa moved the tiny models' logits (about 0.03 in size) by up
# to 2.4e-4 with the reference.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.bfloat16: 2e-3}


def assert_merge_follows(lora, model, dtype, device):
    """merge_lora on a model in ``dtype`` on ``device``: the new layers sit there too, and compute the same."""
    input_ids = torch.randint(5, 95, (4, 16))
    where = f"a {str(dtype).removeprefix('torch.')} model on {device.type}"
    expected = logits(model, input_ids, device)
    lora.merge_lora(model)
    wrong = misplaced(model.parameters(), dtype, device.type)
    expect(not wrong, f"merge_lora on {where}: each new nn.Linear sits in the dtype and on the device of the "
           "layer it replaces", f"every parameter in {dtype} on {device.type}", names(wrong))
    found = logits(model, input_ids, device)
    expect(close(found, expected, atol=TOLERANCE[dtype], rtol=0),
           f"merge_lora on {where}: the merged model's logits equal the unmerged model's",
           f"within {TOLERANCE[dtype]:g}", max_difference(found, expected))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_merged_layers_follow_the_dtype(lora, base_model, device, dtype):
    assert_merge_follows(lora, trained_lora_model(lora, base_model, "bert-tiny", dtype=dtype), dtype, device)


@pytest.mark.cuda
def test_merged_layers_follow_a_model_on_the_gpu(lora):
    model = trained_lora_model(lora, lambda name, dtype=None: lora.model(name, device="cuda"), "bert-tiny")
    assert_merge_follows(lora, model, torch.float32, torch.device("cuda"))


@pytest.mark.hidden
def test_merge_after_training_with_dropout(lora, base_model, device):
    model = base_model("distilbert-tiny")
    lora.add_lora(model, rank=4, alpha=8, target_modules=["q_lin", "v_lin", "lin1"], dropout=0.1)
    batch = {"input_ids": Placed(torch.randint(5, 95, (8, 16)), device.type),
             "labels": Placed(torch.randint(0, 2, (8,)), device.type)}
    lora.builtin("adamw_steps", model, [batch] * 5, lr=1e-2, trainable_only=True)
    model.call("eval")
    expected = logits(model, batch["input_ids"].tensor, device)
    lora.merge_lora(model)
    found = logits(model, batch["input_ids"].tensor, device)
    expect(close(found, expected, atol=1e-5, rtol=0), "merge_lora after training with dropout, on q_lin, v_lin "
           "and lin1: the merged model's logits equal the unmerged model's in eval mode",
           "within 1e-5", max_difference(found, expected))
