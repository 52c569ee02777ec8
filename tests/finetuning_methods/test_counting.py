"""count_trainable_parameters: the elements of every parameter with requires_grad, each parameter once, as an int.

The flags are set by the judge (the subject's ``requires_grad`` builtin), never by the submission's other parts."""

import math
import numbers

import pytest

from ..judging.checks import expect
from .assets import CONVENTIONS, MODEL_NAMES

EVERYTHING = "distilbert-base classifier, everything trainable"  # [figures]


def trainable_elements(model) -> int:
    return sum(math.prod(p["shape"]) for p in model.parameters() if p["requires_grad"])


def counted(lora, model, rule: str) -> int:
    found = lora.count_trainable_parameters(model)
    expect(isinstance(found, numbers.Integral) and not isinstance(found, bool), f"{rule}: an int",
           "an int", type(found).__name__)
    return int(found)


@pytest.mark.parametrize("flags", ["all trainable", "every other one"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_counts_the_trainable_elements(lora, base_model, name, flags):
    model = base_model(name)
    if flags != "all trainable":
        lora.builtin("requires_grad", model, {p["name"]: index % 2 == 0 for index, p in enumerate(model.parameters())})
    expected = trainable_elements(model)
    rule = f"count_trainable_parameters ({name}, {flags}) counts the elements of the parameters with requires_grad"
    found = counted(lora, model, rule)
    expect(found == expected, rule, f"{expected:,}", f"{found:,}")
    lora.builtin("requires_grad", model, False)
    found = counted(lora, model, f"count_trainable_parameters ({name}, then everything frozen)")
    expect(found == 0, f"count_trainable_parameters ({name}) is 0 once everything is frozen", "0", f"{found:,}")


def test_a_shared_parameter_counts_once(lora):
    model = lora.builtin("tied_linears", 8, keep=True)  # two nn.Linear(8, 8) sharing one weight
    rule = "count_trainable_parameters counts a parameter two modules share once (as model.parameters() lists it)"
    found = counted(lora, model, rule)
    expect(found == 64 + 8 + 8, rule, "80 (one 8x8 weight, two biases)", f"{found:,}")


def test_the_handouts_figure(lora):
    rule = "count_trainable_parameters on DistilBERT base with a two-label head, everything trainable"
    found = counted(lora, lora.builtin("distilbert_base", keep=True), rule)
    expected = CONVENTIONS.figures[EVERYTHING]
    expect(found == expected, rule, f"{expected:,}", f"{found:,}")
