"""tune_final_layers_only: the pretrained body (``model.base_model``) frozen, every parameter outside it trainable,
whatever the flags were before; the model returned."""

import math

import pytest

from ..judging.checks import expect, names
from .assets import CONVENTIONS, MODEL_NAMES, final_layers

FINAL_LAYERS = "distilbert-base classifier, the final layers only"  # [figures]


def trainable(model) -> list[str]:
    return sorted(p["name"] for p in model.parameters() if p["requires_grad"])


@pytest.mark.parametrize("before", ["all trainable", "all frozen", "every other one"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_trains_exactly_the_final_layers(lora, base_model, own_model, name, before):
    model = base_model(name)
    if before != "all trainable":
        lora.builtin("requires_grad", model, {p["name"]: before == "every other one" and index % 2 == 0
                                              for index, p in enumerate(model.parameters())})
    returned = lora.tune_final_layers_only(model)
    expected, found = final_layers(own_model(name)), trainable(model)
    expect(found == expected, f"tune_final_layers_only ({name}, {before} before): every parameter of "
           "model.base_model frozen, every other one (the head on top) trainable", names(expected), names(found))
    expect(returned is model, "tune_final_layers_only returns the model it was given", "the same model",
           getattr(returned, "type", type(returned).__name__))


def test_the_handouts_figure(lora):
    model = lora.builtin("distilbert_base", keep=True)
    lora.tune_final_layers_only(model)
    found = sum(math.prod(p["shape"]) for p in model.parameters() if p["requires_grad"])
    expected = CONVENTIONS.figures[FINAL_LAYERS]
    expect(found == expected, "tune_final_layers_only on DistilBERT base leaves pre_classifier and classifier "
           "trainable", f"{expected:,}", f"{found:,}")
