"""count_trainable_parameters: on the tiny models, on tied weights, and the contract's public figures."""

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification

from .assets import MODEL_NAMES, is_head
from .checks import expect, modules_of_type


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_counts_trainable_scalars(lora, base_model, name):
    model = base_model(name)
    head = sum(p.numel() for n, p in model.named_parameters() if is_head(n))
    found = lora.count_trainable_parameters(model)
    expect(found == head, f"count_trainable_parameters on {name} with only the head trainable counts the head",
           head, found)
    model.requires_grad_(True)
    everything = sum(p.numel() for p in model.parameters())
    found = lora.count_trainable_parameters(model)
    expect(found == everything, f"count_trainable_parameters on {name} with everything trainable",
           everything, found)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_adds_rank_times_in_plus_out_per_layer(lora, base_model, name):
    model = base_model(name)
    head = sum(p.numel() for n, p in model.named_parameters() if is_head(n))
    lora.add_lora(model, rank=4, alpha=8)
    wrapped = modules_of_type(model, lora.LinearLoRA).values()
    expected = head + sum(4 * (m.linear.in_features + m.linear.out_features) for m in wrapped)
    found = lora.count_trainable_parameters(model)
    expect(found == expected,
           f"count_trainable_parameters on {name} with LoRA r=4: head + r * (in + out) per wrapped layer",
           expected, found)


def test_shared_tensors_count_once(lora):
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))
    model[1].weight = model[0].weight  # tied, as input and output embeddings often are
    found = lora.count_trainable_parameters(model)
    expect(found == 120, "count_trainable_parameters counts a tensor shared by two modules once",
           "100 + 10 + 10 = 120", found)


def meta_model(model_type: str):
    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, num_labels=2))


def freeze_body(model):
    for name, param in model.named_parameters():
        param.requires_grad = is_head(name)
    return model


@pytest.mark.parametrize("model_type, setup, expected", [
    ("distilbert", "everything trainable", 66_955_010),
    ("distilbert", "head only", 592_130),
    ("distilbert", "head + LoRA r=8 on q_lin, v_lin", 739_586),
    ("bert", "head + LoRA r=8 on query, value", 296_450),
])
def test_public_figures(lora, model_type, setup, expected):
    model = meta_model(model_type)  # the base-size architecture, without any weights
    if setup != "everything trainable":
        freeze_body(model)
    if "LoRA" in setup:
        lora.add_lora(model, rank=8, alpha=16)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, 2 labels, {setup}: the contract's public figure",
           f"{expected:,}", f"{found:,}" if isinstance(found, int) else repr(found))


@pytest.mark.hidden
@pytest.mark.parametrize("model_type, rank, targets", [
    ("bert", 16, ["query", "key", "value"]),
    ("distilbert", 4, ["lin1", "lin2"]),
])
def test_figures_for_other_set_ups(lora, model_type, rank, targets):
    model = freeze_body(meta_model(model_type))
    head = sum(p.numel() for n, p in model.named_parameters() if is_head(n))
    wrapped = [m for n, m in model.named_modules()
               if isinstance(m, nn.Linear) and any(n.endswith("." + t) for t in targets)]
    expected = head + sum(rank * (m.in_features + m.out_features) for m in wrapped)
    lora.add_lora(model, rank=rank, alpha=2 * rank, target_modules=targets)
    found = lora.count_trainable_parameters(model)
    expect(found == expected, f"{model_type} base, head + LoRA r={rank} on {targets}: "
           "head + r * (in + out) per wrapped layer",
           f"{expected:,}", f"{found:,}" if isinstance(found, int) else repr(found))
