"""merge_lora: the same outputs from plain nn.Linear layers, and the base model's parameter count."""

import contextlib
import math

import pytest
import torch
from torch import nn

from ..judging import pristine
from ..judging.checks import close, equal, expect, max_difference, names, of_kind
from ..judging.judge import SubjectRaised
from ..judging.protocol import Placed
from .assets import CONVENTIONS, DEFAULT_TARGETS, MODEL_NAMES, TINY_MODELS
from .checks import head_count, logits, matching_linears, misplaced

LINEAR = "torch.nn.modules.linear.Linear"


def trained_lora_model(lora, base_model, name, dtype=None, targets=None, dropout=0.0):
    """A model with LoRA on ``targets`` (the default ones) whose A, B and biases the judge drew, as after some
    training: (the subject's model, the layers). The layers are wrapped by the judge with the student's
    LinearLoRA (merge_lora's one dependency: it replaces LinearLoRA objects), not by add_lora; rank, alpha and
    scaling are set to 4, 12 and 3 (alpha 3 where alpha is the scaling) whatever the student's LoRALayer computes."""
    model = base_model(name, dtype=dtype)
    own = pristine.fresh(TINY_MODELS, name, 2)
    layers = matching_linears(own, targets or DEFAULT_TARGETS[name])
    for layer in layers:
        linear = own.get_submodule(layer)
        wrapped = lora.LinearLoRA(model.get(layer), 4, ALPHA, dropout)
        model.set(layer, wrapped)
        for attribute, value in (("rank", 4), ("alpha", ALPHA), (CONVENTIONS.scaling_attribute, SCALING)):
            with contextlib.suppress(SubjectRaised):  # a read-only property computing it is as good
                model.set(f"{layer}.lora.{attribute}", value)
        model.assign(f"{layer}.lora.A", torch.randn(linear.in_features, 4) / 4)
        model.assign(f"{layer}.lora.B", 0.05 * torch.randn(4, linear.out_features))
        model.assign(f"{layer}.linear.bias", 0.1 * torch.randn(linear.out_features))
    return model, layers


SCALING = 3.0
ALPHA = float(CONVENTIONS.alpha_for(SCALING, 4))  # at rank 4


def judge_merged(name: str, tensors: dict, layers, dtype=None) -> nn.Module:
    """The judge's own copy of the model with the subject's parameters (``tensors``, read before the merge) and each
    LoRA layer merged by the judge: W + scaling * (A @ B).T, bias unchanged."""
    own = pristine.fresh(TINY_MODELS, name, 2).eval()
    if dtype is not None:
        own.to(dtype)
    state = {}
    for key, value in tensors.items():
        layer = next((layer for layer in layers if key.startswith(layer + ".")), None)
        if layer is None:
            state[key] = value
        elif key.startswith(f"{layer}.linear."):
            state[f"{layer}.{key.removeprefix(layer + '.linear.')}"] = value
    for layer in layers:
        W, A, B = (tensors[f"{layer}.{part}"].double() for part in ("linear.weight", "lora.A", "lora.B"))
        state[f"{layer}.weight"] = (W + SCALING * (A @ B).T).to(tensors[f"{layer}.linear.weight"].dtype)
    own.load_state_dict(state, strict=False)
    return own


def lora_tensors(model, layers) -> dict:
    """The model's parameters before the merge, after checking that each LoRA layer has its W, A and B: what the
    merge is judged on exists, and (A and B being non-zero) every merged weight differs from its W."""
    tensors = model.tensors()
    missing = [f"{layer}.{part}" for layer in layers for part in ("linear.weight", "lora.A", "lora.B")
               if not isinstance(tensors.get(f"{layer}.{part}"), torch.Tensor)]
    expect(layers and not missing, "merge_lora is judged on LinearLoRA layers with linear.weight, lora.A and "
           "lora.B (your LinearLoRA must build them: see its tests)", "every one of them", f"missing: {names(missing)}")
    return tensors


def merged_away(model, layers, call: str) -> None:
    """Every LinearLoRA gone after the merge, so that what is compared next is the merged model."""
    left = of_kind(model, "LinearLoRA")
    expect(not left, f"{call}: no LinearLoRA is left", "plain nn.Linear layers", f"LinearLoRA at {names(left)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_logits_equal_unmerged(lora, base_model, device, name):
    model, layers = trained_lora_model(lora, base_model, name)
    input_ids = torch.randint(5, 95, (4, 16))
    with torch.no_grad():
        expected = judge_merged(name, lora_tensors(model, layers), layers)(input_ids=input_ids).logits
    lora.merge_lora(model)
    merged_away(model, layers, f"merge_lora on {name}")
    found = logits(model, input_ids, device)
    expect(close(found, expected, atol=1e-5, rtol=0),
           f"merge_lora on {name}: the merged model's logits equal the unmerged model's "
           "(W + scaling * (A @ B).T, bias unchanged)", "within 1e-5", max_difference(found, expected))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_weight_formula(lora, base_model, name):
    """The judge computes each merged weight itself, from the W, A and B it reads before the merge and the scaling
    it set."""
    model, layers = trained_lora_model(lora, base_model, name)
    before = lora_tensors(model, layers)
    lora.merge_lora(model)
    merged = model.tensors()
    for layer in layers:
        W, A, B = (before[f"{layer}.{part}"] for part in ("linear.weight", "lora.A", "lora.B"))
        weight = W + SCALING * (A @ B).T
        found = merged.get(f"{layer}.weight")
        expect(close(found, weight, atol=1e-6), f"merge_lora: {layer}.weight becomes W + scaling * (A @ B).T",
               "within 1e-6", max_difference(found, weight))
        bias = before[f"{layer}.linear.bias"]
        found = merged.get(f"{layer}.bias")
        expect(equal(found, bias), f"merge_lora: {layer}.bias stays as it was", "the same bias",
               max_difference(found, bias))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merge_leaves_plain_linear_layers_and_the_base_count(lora, base_model, own_model, name):
    model, wrapped = trained_lora_model(lora, base_model, name)
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
# How far a merged weight may be from W + scaling * (A @ B).T computed in float64, as a share of the layer's largest
# merged weight: two units in the last place of the dtype, whichever order the sum is rounded in. In bfloat16 the
# logits alone cannot tell a wrong scaling from rounding (merging without it moved them by 2.4e-4 to 2.1e-3 over
# twelve seeds, the reference by 2e-5 to 1.8e-4); the weights, a share of whose size the error is, always can.
WEIGHT_ROUNDING = {torch.float32: 2 * 2**-23, torch.float64: 2 * 2**-52, torch.bfloat16: 2 * 2**-7}


def assert_merge_follows(lora, model, layers, dtype, device):
    """merge_lora on a model in ``dtype`` on ``device``: the new layers sit there too, and compute the same."""
    input_ids = torch.randint(5, 95, (4, 16))
    where = f"a {str(dtype).removeprefix('torch.')} model on {device.type}"
    before = lora_tensors(model, layers)
    with torch.no_grad():
        expected = judge_merged("bert-tiny", before, layers, dtype)(input_ids=input_ids).logits
    lora.merge_lora(model)
    merged_away(model, layers, f"merge_lora on {where}")
    wrong = misplaced(model.parameters(), dtype, device.type)
    expect(not wrong, f"merge_lora on {where}: each new nn.Linear sits in the dtype and on the device of the "
           "layer it replaces", f"every parameter in {dtype} on {device.type}", names(wrong))
    merged = model.tensors()
    for layer in layers:
        W, A, B = (before[f"{layer}.{part}"].double() for part in ("linear.weight", "lora.A", "lora.B"))
        weight = W + SCALING * (A @ B).T
        found = merged.get(f"{layer}.weight")
        found = found.double() if isinstance(found, torch.Tensor) else found
        atol = WEIGHT_ROUNDING[dtype] * float(weight.abs().max())
        expect(close(found, weight, atol=atol, rtol=0), f"merge_lora on {where}: {layer}.weight becomes "
               "W + scaling * (A @ B).T, rounded to the layer's dtype", f"within {atol:.2g}",
               max_difference(found, weight))
    found = logits(model, input_ids, device)
    expect(close(found, expected, atol=TOLERANCE[dtype], rtol=0),
           f"merge_lora on {where}: the merged model's logits equal the unmerged model's",
           f"within {TOLERANCE[dtype]:g}", max_difference(found, expected))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_merged_layers_follow_the_dtype(lora, base_model, device, dtype):
    model, layers = trained_lora_model(lora, base_model, "bert-tiny", dtype=dtype)
    assert_merge_follows(lora, model, layers, dtype, device)


@pytest.mark.cuda
def test_merged_layers_follow_a_model_on_the_gpu(lora):
    model, layers = trained_lora_model(lora, lambda name, dtype=None: lora.model(name, device="cuda"), "bert-tiny")
    assert_merge_follows(lora, model, layers, torch.float32, torch.device("cuda"))


@pytest.mark.hidden
def test_merge_after_training_with_dropout(lora, base_model, device):
    """A few AdamW steps in training mode with dropout, then the merge judged on the trained parameters."""
    model, layers = trained_lora_model(lora, base_model, "distilbert-tiny", targets=("q_lin", "v_lin", "lin1"),
                                       dropout=0.1)
    batch = {"input_ids": Placed(torch.randint(5, 95, (8, 16)), device.type),
             "labels": Placed(torch.randint(0, 2, (8,)), device.type)}
    lora.builtin("adamw_steps", model, [batch] * 5, lr=1e-2, trainable_only=True)
    model.call("eval")
    with torch.no_grad():
        expected = judge_merged("distilbert-tiny", lora_tensors(model, layers), layers)(
            input_ids=batch["input_ids"].tensor).logits
    lora.merge_lora(model)
    merged_away(model, layers, "merge_lora after training")
    found = logits(model, batch["input_ids"].tensor, device)
    expect(close(found, expected, atol=1e-5, rtol=0), "merge_lora after training with dropout, on q_lin, v_lin "
           "and lin1: the merged model's logits equal the unmerged model's in eval mode",
           "within 1e-5", max_difference(found, expected))
