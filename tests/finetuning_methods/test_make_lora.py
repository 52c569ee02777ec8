"""make_lora_model: every query and value layer wrapped in a LinearLoRA around the very layer, with the given rank
and alpha; exactly LoRA's A and B and the final layers trainable; the model's logits unchanged at first."""

import math

import pytest
import torch

from ..judging.checks import arguments_of, close, expect, max_difference, names, of_kind, tensor
from ..judging.protocol import Placed
from .assets import CONVENTIONS, MODEL_NAMES, final_layers, query_and_value

LORA = "distilbert-base classifier, LoRA r=8 on q_lin and v_lin, the final layers trainable"  # [figures]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_wraps_exactly_the_query_and_value_layers(lora, base_model, own_model, name):
    model = base_model(name)
    expected = query_and_value(own_model(name))
    originals = {layer: lora.builtin("identity", model, layer) for layer in expected}
    returned = lora.make_lora_model(model, 4, 8.0)
    expect(returned is model, "make_lora_model returns the model it was given, changed in place", "the same model",
           getattr(returned, "type", type(returned).__name__))
    wrapped = sorted(of_kind(model, "LinearLoRA"))
    expect(wrapped == expected, f"make_lora_model ({name}) wraps every query and value layer in a LinearLoRA, and "
           "nothing else", names(expected), names(wrapped))
    moved = [layer for layer in expected if lora.builtin("identity", model, f"{layer}.pretrained") != originals[layer]]
    expect(not moved, "each LinearLoRA wraps the very layer that was there", "the model's own layers",
           f"other layers in: {names(moved)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_trains_exactly_lora_and_the_final_layers(lora, base_model, own_model, name):
    model = base_model(name)
    lora.make_lora_model(model, 4, 8.0)
    own = own_model(name)
    expected = sorted([*final_layers(own), *(f"{layer}.{ab}.weight" for layer in query_and_value(own)
                                             for ab in ("A", "B"))])
    found = sorted(p["name"] for p in model.parameters() if p["requires_grad"])
    expect(found == expected, f"make_lora_model ({name}): exactly each LinearLoRA's A and B and the final layers "
           "trainable, the rest of the body frozen", names(expected, 8), names(found, 8))


def test_gives_each_layer_the_rank_and_alpha(lora, base_model):
    lora.builtin("spy", "LinearLoRA")
    lora.make_lora_model(base_model("distilbert-tiny"), 3, 5.0)
    calls = [arguments_of(call, ("pretrained", "rank", "alpha")) for call in lora.builtin("calls", "LinearLoRA")]
    found = sorted({(call.get("rank"), call.get("alpha")) for call in calls})
    expect(len(calls) == 6 and found == [(3, 5.0)], "make_lora_model(model, rank=3, alpha=5.0) builds one "
           "LinearLoRA(layer, 3, 5.0) per query and value layer (6 in the tiny DistilBERT)",
           "6 calls with rank 3, alpha 5.0", f"{len(calls)} calls with (rank, alpha) {found}")


def test_logits_unchanged_right_after(lora, base_model, own_model):
    model = base_model("distilbert-tiny")
    lora.make_lora_model(model, 4, 8.0)
    expect(of_kind(model, "LinearLoRA"), "the logits are judged on a model make_lora_model wrapped (see the tests "
           "that it wraps the query and value layers)", "LinearLoRA layers in the model", "none")
    input_ids = torch.randint(5, 90, (3, 10))
    output = model.call("__call__", input_ids=Placed(input_ids), no_grad=True)
    found = tensor(output.get("logits") if isinstance(output, dict) else output, "the model's output has logits")
    with torch.no_grad():
        expected = own_model("distilbert-tiny")(input_ids).logits
    expect(close(found, expected), "right after make_lora_model the model gives the logits it gave before (each B "
           "starts at zero)", "values within 1e-5", max_difference(found, expected))


def test_the_handouts_figure(lora):
    model = lora.builtin("distilbert_base", keep=True)
    lora.make_lora_model(model, 8, 16.0)
    found = sum(math.prod(p["shape"]) for p in model.parameters() if p["requires_grad"])
    expected = CONVENTIONS.figures[LORA]
    expect(found == expected, "make_lora_model(DistilBERT base, rank=8, alpha=16): LoRA's A and B on q_lin and "
           "v_lin and the final layers trainable", f"{expected:,}", f"{found:,}")
