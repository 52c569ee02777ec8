"""initialize_base_model: loads the local checkpoint, freezes the body, keeps the new head trainable."""

import pytest
import torch

from .assets import MODEL_NAMES, TINY_MODELS, is_head
from .checks import expect, names


def initialize(lora, name):
    return lora.initialize_base_model(str(TINY_MODELS / name), num_labels=3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loads_model_and_tokenizer(lora, name):
    model, tokenizer = initialize(lora, name)
    batch = tokenizer(["the plot was gripping .", "the acting was dull ."], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expect(tuple(logits.shape) == (2, 3),
           f"initialize_base_model(tiny_models/{name}, num_labels=3) returns (model, tokenizer): "
           "a sequence classifier with a 3-way head and its tokenizer",
           "logits of shape (2, 3) for two texts", tuple(logits.shape))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loads_the_pretrained_weights(lora, base_model, name):
    model, _ = initialize(lora, name)
    reference = dict(base_model(name, num_labels=3).named_parameters())
    differing = [param_name for param_name, param in model.named_parameters()
                 if not is_head(param_name)
                 and not torch.equal(param.detach().cpu(), reference[param_name].detach().cpu())]
    expect(not differing,
           "initialize_base_model: the body's weights are the checkpoint's (from_pretrained, not a fresh model)",
           "every body parameter equal to the checkpoint", f"different: {names(differing)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_freezes_the_body_and_keeps_the_head_trainable(lora, name):
    model, _ = initialize(lora, name)
    trainable_body = [n for n, p in model.named_parameters() if p.requires_grad and not is_head(n)]
    frozen_head = [n for n, p in model.named_parameters() if not p.requires_grad and is_head(n)]
    expect(not trainable_body,
           "initialize_base_model: every parameter of the pretrained body is frozen (requires_grad=False)",
           "no trainable parameter outside the head", f"trainable: {names(trainable_body)}")
    expect(not frozen_head,
           "initialize_base_model: the new classification head (classifier, and pre_classifier where there is "
           "one) stays trainable", "every head parameter trainable", f"frozen: {names(frozen_head)}")
