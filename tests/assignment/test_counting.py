"""count_trainable_parameters: on the tiny models, on tied weights, and the contract's public figures.

The LoRA parameters counted here are added by the suite (the subject's ``low_rank_shaped``
builtin: an ``(in, rank)`` and a ``(rank, out)`` parameter on each layer the judge names), not
by the submission's ``add_lora``: a count is judged on its own, whatever ``add_lora`` does.
"""

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification

from ..judging.checks import expect
from .assets import DEFAULT_TARGETS, MODEL_NAMES, is_head
from .checks import head_count, matching_linears


def count(found) -> str:
    return f"{found:,}" if isinstance(found, int) else repr(found)


def type_name(found) -> str:
    """The type the submission returned: ``numpy.int64`` arrives as an int that remembers it was one."""
    return getattr(found, "type_name", None) or getattr(found, "type", None) or type(found).__name__


def low_rank_shaped(lora, model, own: nn.Module, targets, rank: int) -> list[nn.Linear]:
    """LoRA's parameters of ``rank`` on the ``targets`` layers of the subject's ``model``, added by the suite; the
    judge's own copies of those layers."""
    names = matching_linears(own, targets)
    lora.builtin("low_rank_shaped", model, {n: rank for n in names})
    layers = dict(own.named_modules())
    return [layers[n] for n in names]


def test_returns_an_int(lora, base_model, own_model):
    """The one clause about the type: every other test judges the value, whatever number type carries it. The
    type is judged on a right count (a count that returns 0 has no type worth a point)."""
    head = sum(p.numel() for n, p in own_model("bert-tiny").named_parameters() if is_head(n))
    found = lora.count_trainable_parameters(base_model("bert-tiny"))
    expect(found == head, "count_trainable_parameters on bert-tiny with only the head trainable (the count whose "
           "type is judged here)", head, count(found))
    expect(type(found) is int, "count_trainable_parameters returns an int", "an int", type_name(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_counts_trainable_scalars(lora, base_model, own_model, name):
    model = base_model(name)
    own = own_model(name)
    head = sum(p.numel() for n, p in own.named_parameters() if is_head(n))
    found = lora.count_trainable_parameters(model)
    expect(found == head, f"count_trainable_parameters on {name} with only the head trainable counts the head",
           head, count(found))
    model.call("requires_grad_", True)
    everything = sum(p.numel() for p in own.parameters())
    found = lora.count_trainable_parameters(model)
    expect(found == everything, f"count_trainable_parameters on {name} with everything trainable",
           everything, count(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_adds_rank_times_in_plus_out_per_layer(lora, base_model, own_model, name):
    model = base_model(name)
    own = own_model(name)
    head = sum(p.numel() for n, p in own.named_parameters() if is_head(n))
    wrapped = low_rank_shaped(lora, model, own, DEFAULT_TARGETS[name], rank=4)
    expected = head + sum(4 * (m.in_features + m.out_features) for m in wrapped)
    found = lora.count_trainable_parameters(model)
    expect(found == expected,
           f"count_trainable_parameters on {name} with LoRA's parameters of rank 4 on {DEFAULT_TARGETS[name]} "
           "(held by a module of any type): head + r * (in + out) per wrapped layer", expected, count(found))


def test_shared_tensors_count_once(lora):
    found = lora.count_trainable_parameters(lora.builtin("tied_linears", 10))
    expect(found == 120, "count_trainable_parameters counts a tensor shared by two modules once",
           "100 + 10 + 10 = 120", count(found))


def meta_model(lora, model_type: str):
    """The base-size architecture, without any weights, in the subject."""
    return lora.builtin("from_config", model_type, meta=True, num_labels=2)


def own_meta_model(model_type: str) -> nn.Module:
    """The judge's own meta copy of the base-size architecture, for the expected figures."""
    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, num_labels=2))


def freeze_body(lora, model):
    lora.builtin("requires_grad", model, {p["name"]: is_head(p["name"]) for p in model.parameters()})
    return model


@pytest.mark.parametrize("model_type, setup, expected", [
    ("distilbert", "everything trainable", 66_955_010),
    ("distilbert", "head only", 592_130),
    ("distilbert", "head + LoRA r=8 on q_lin, v_lin", 739_586),
    ("bert", "head + LoRA r=8 on query, value", 296_450),
])
def test_public_figures(lora, model_type, setup, expected):
    model = meta_model(lora, model_type)
    if setup != "everything trainable":
        freeze_body(lora, model)
    if "LoRA" in setup:
        low_rank_shaped(lora, model, own_meta_model(model_type), DEFAULT_TARGETS[model_type], rank=8)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, 2 labels, {setup}: the contract's public figure",
           f"{expected:,}", count(found))


@pytest.mark.hidden
@pytest.mark.parametrize("model_type, rank, targets", [
    ("bert", 16, ["query", "key", "value"]),
    ("distilbert", 4, ["lin1", "lin2"]),
])
def test_figures_for_other_set_ups(lora, model_type, rank, targets):
    own = own_meta_model(model_type)
    head = head_count([{"name": n, "shape": list(p.shape)} for n, p in own.named_parameters()])
    model = freeze_body(lora, meta_model(lora, model_type))
    wrapped = low_rank_shaped(lora, model, own, targets, rank)
    expected = head + sum(rank * (m.in_features + m.out_features) for m in wrapped)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, head + LoRA r={rank} on {targets}: "
           "head + r * (in + out) per wrapped layer",
           f"{expected:,}", count(found))
