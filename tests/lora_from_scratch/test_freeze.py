"""freeze_and_activate_lora: exactly each LoRALayer's A and B and the head trainable, every other parameter
frozen, whatever the flags were before.

Its models are wrapped by the judge (the submission's LinearWithLoRA on chosen layers), never by the
submission's replace_linear_with_lora, so that these tests judge the freezing alone.
"""

import pytest

from ..judging.checks import expect, names

WRAPPED = ("trf_blocks.0.att.W_query", "trf_blocks.1.ff.layers.2")
HEAD = ("out_head.weight", "out_head.bias")


def with_lora(lora, model, layers=WRAPPED):
    """``model`` with its ``layers`` wrapped by the submission's LinearWithLoRA; the names of their A and B."""
    for layer in layers:
        model.set(layer, lora.LinearWithLoRA(model.get(layer), 2, 1.0))
    found = sorted(p["name"] for p in model.parameters() if ".lora." in p["name"])
    expected = sorted(f"{layer}.lora.{name}" for layer in layers for name in ("A", "B"))
    expect(found == expected, "freeze_and_activate_lora is judged on layers wrapped by your LinearWithLoRA, whose "
           "LoRALayer is `lora` with parameters A and B (see the LinearWithLoRA tests)", names(expected), names(found))
    return found


def trainable(model) -> list[str]:
    return sorted(p["name"] for p in model.parameters() if p["requires_grad"])


@pytest.mark.parametrize("before", ["all trainable", "mixed", "all frozen"])
def test_trains_exactly_lora_and_the_head(lora, base_model, before):
    model = base_model()
    expected = sorted([*with_lora(lora, model), *HEAD])
    flags = {"all trainable": True, "all frozen": False}.get(before)
    if flags is None:
        flags = {p["name"]: index % 2 == 0 for index, p in enumerate(model.parameters())}
    lora.builtin("requires_grad", model, flags)
    lora.freeze_and_activate_lora(model)
    found = trainable(model)
    expect(found == expected, f"freeze_and_activate_lora ({before} before): exactly each LoRALayer's A and B and "
           "out_head's weight and bias trainable, every other parameter frozen",
           names(expected, 8), f"trainable: {names(found, 8)}")


def test_without_lora_only_the_head_trains(lora, base_model):
    model = base_model()
    lora.freeze_and_activate_lora(model)
    found = trainable(model)
    expect(found == sorted(HEAD), "freeze_and_activate_lora on a model without LoRA leaves only the head trainable",
           names(HEAD), names(found))
