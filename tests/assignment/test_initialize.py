"""initialize_base_model: loads the local checkpoint, freezes the body, keeps the new head trainable."""

import pytest
import torch

from ..judging.checks import expect, names, shape, tensor
from ..judging.judge import Ref
from .assets import CONVENTIONS, MODEL_NAMES, is_head

LABELS = 3 if CONVENTIONS.labels_argument else 2  # 3 where the number of labels is an argument: not the default


def initialize(lora, name):
    labels = {CONVENTIONS.labels_argument: LABELS} if CONVENTIONS.labels_argument else {}
    found = lora.initialize_base_model(**{CONVENTIONS.model_argument: lora.builtin("model_path", name)}, **labels)
    expect(isinstance(found, list) and len(found) == 2 and all(isinstance(part, Ref) for part in found),
           "initialize_base_model returns (model, tokenizer)", "a pair of objects", found)
    return found


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loads_model_and_tokenizer(lora, name):
    model, tokenizer = initialize(lora, name)
    batch = tokenizer(["the plot was gripping .", "the acting was dull ."], padding=True, return_tensors="pt")
    labels = f", {CONVENTIONS.labels_argument}={LABELS}" if CONVENTIONS.labels_argument else ""
    rule = (f"initialize_base_model({CONVENTIONS.model_argument}=tiny_models/{name}{labels}) returns (model, "
            f"tokenizer): a sequence classifier with a {LABELS}-way head and its tokenizer")
    expect(isinstance(batch, dict) and "input_ids" in batch and "attention_mask" in batch, rule,
           "a tokenizer that gives input_ids and attention_mask", type(batch).__name__)
    output = model.call("__call__", input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        no_grad=True)
    found = tensor(output.get("logits") if isinstance(output, dict) else output, rule)
    expect(tuple(found.shape) == (2, LABELS), rule, f"logits of shape (2, {LABELS}) for two texts", shape(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loads_the_pretrained_weights(lora, own_model, name):
    model, _ = initialize(lora, name)
    reference = dict(own_model(name, num_labels=LABELS).named_parameters())  # the judge's own copy of the checkpoint
    found = model.tensors()
    differing = [param_name for param_name, param in reference.items()
                 if not is_head(param_name) and not (param_name in found and torch.equal(found[param_name], param))]
    expect(not differing,
           "initialize_base_model: the body's weights are the checkpoint's (from_pretrained, not a fresh model)",
           "every body parameter equal to the checkpoint", f"different: {names(differing)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_freezes_the_body_and_keeps_the_head_trainable(lora, name):
    model, _ = initialize(lora, name)
    params = model.parameters()
    trainable_body = [p["name"] for p in params if p["requires_grad"] and not is_head(p["name"])]
    frozen_head = [p["name"] for p in params if not p["requires_grad"] and is_head(p["name"])]
    expect(not trainable_body,
           "initialize_base_model: every parameter of the pretrained body is frozen (requires_grad=False)",
           "no trainable parameter outside the head", f"trainable: {names(trainable_body)}")
    expect(not frozen_head,
           "initialize_base_model: the new classification head (classifier, and pre_classifier where there is "
           "one) stays trainable", "every head parameter trainable", f"frozen: {names(frozen_head)}")
