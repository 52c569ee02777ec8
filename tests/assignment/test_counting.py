"""count_trainable_parameters: on the tiny models, on tied weights, and the contract's public figures."""

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification

from .assets import MODEL_NAMES, is_head
from .checks import expect, head_count, of_kind


def count(found) -> str:
    return f"{found:,}" if isinstance(found, int) else repr(found)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_counts_trainable_scalars(lora, base_model, own_model, name):
    model = base_model(name)
    own = own_model(name)
    head = sum(p.numel() for n, p in own.named_parameters() if is_head(n))
    found = lora.count_trainable_parameters(model)
    expect(type(found) is int, "count_trainable_parameters returns an int", "an int", type(found).__name__)
    expect(found == head, f"count_trainable_parameters on {name} with only the head trainable counts the head",
           head, found)
    model.call("requires_grad_", True)
    everything = sum(p.numel() for p in own.parameters())
    found = lora.count_trainable_parameters(model)
    expect(found == everything, f"count_trainable_parameters on {name} with everything trainable",
           everything, found)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_adds_rank_times_in_plus_out_per_layer(lora, base_model, own_model, name):
    model = base_model(name)
    own = own_model(name)
    head = sum(p.numel() for n, p in own.named_parameters() if is_head(n))
    lora.add_lora(model, rank=4, alpha=8)
    layers = dict(own.named_modules())
    wrapped = [layers[n] for n in of_kind(model, "LinearLoRA") if isinstance(layers.get(n), nn.Linear)]
    expected = head + sum(4 * (m.in_features + m.out_features) for m in wrapped)
    found = lora.count_trainable_parameters(model)
    expect(found == expected,
           f"count_trainable_parameters on {name} with LoRA r=4: head + r * (in + out) per wrapped layer",
           expected, found)


def test_shared_tensors_count_once(lora):
    found = lora.count_trainable_parameters(lora.builtin("tied_linears", 10))
    expect(found == 120, "count_trainable_parameters counts a tensor shared by two modules once",
           "100 + 10 + 10 = 120", found)


def meta_model(lora, model_type: str):
    """The base-size architecture, without any weights, in the subject."""
    return lora.builtin("from_config", model_type, meta=True, num_labels=2)


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
        lora.add_lora(model, rank=8, alpha=16)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, 2 labels, {setup}: the contract's public figure",
           f"{expected:,}", count(found))


@pytest.mark.hidden
@pytest.mark.parametrize("model_type, rank, targets", [
    ("bert", 16, ["query", "key", "value"]),
    ("distilbert", 4, ["lin1", "lin2"]),
])
def test_figures_for_other_set_ups(lora, model_type, rank, targets):
    with torch.device("meta"):  # the judge's own meta copy, for the expected figure
        own = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, num_labels=2))
    head = head_count([{"name": n, "shape": list(p.shape)} for n, p in own.named_parameters()])
    wrapped = [m for n, m in own.named_modules()
               if isinstance(m, nn.Linear) and any(n.endswith("." + t) for t in targets)]
    expected = head + sum(rank * (m.in_features + m.out_features) for m in wrapped)
    model = freeze_body(lora, meta_model(lora, model_type))
    lora.add_lora(model, rank=rank, alpha=2 * rank, target_modules=targets)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, head + LoRA r={rank} on {targets}: "
           "head + r * (in + out) per wrapped layer",
           f"{expected:,}", count(found))
