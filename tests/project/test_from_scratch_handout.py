"""The lora-from-scratch reference reproduces the figures of the book its handout follows (Raschka, *Build a Large
Language Model (From Scratch)*, chapter 6 and appendix E), on the handout's GPT-2 small built on the meta device:
124,441,346 parameters for the two-class classifier, and 2,666,528 trainable LoRA parameters at rank 16 when every
``nn.Linear``, the head too, is wrapped, as the appendix does. The pack's own figure (the head left whole and
trainable) follows from the same arithmetic and is what its spec states."""

import math

import pytest
import torch

from grader.assignments.pack import find
from tests.lora_from_scratch import gpt

from .. import module_file

PACK = find("lora-from-scratch")


@pytest.fixture(scope="module")
def reference():
    return module_file.load("from_scratch_reference", PACK.reference)


def gpt2_small():
    with torch.device("meta"):
        return gpt.classifier(gpt.GPT2_SMALL)


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_the_classifier_has_the_books_parameter_count():
    model = gpt2_small()
    assert sum(p.numel() for p in model.parameters()) == 124_441_346
    assert PACK.spec["figures"]["gpt2-small classifier, everything trainable"] == 124_441_346


def test_the_books_appendix_count_when_the_head_is_wrapped_too(reference):
    """The appendix freezes the model, then wraps every nn.Linear, the head included: 2,666,528 trainable."""
    model = gpt2_small()
    for param in model.parameters():
        param.requires_grad = False
    model.out_head = reference.LinearWithLoRA(model.out_head, 16, 16)  # the appendix's head, wrapped
    reference.replace_linear_with_lora(model, 16, 16)
    assert trainable(model) == 2_666_528


def test_the_packs_count_leaves_the_head_whole_and_trainable(reference):
    model = gpt2_small()
    reference.replace_linear_with_lora(model, 16, 16)
    reference.freeze_and_activate_lora(model)
    head = math.prod(model.out_head.weight.shape) + model.out_head.bias.numel()
    assert head == 1_538 and trainable(model) == 2_666_528 - (16 * 768 + 16 * 2) + head
    key = "gpt2-small classifier, LoRA r=16 on every Linear but out_head, out_head trainable"
    assert PACK.spec["figures"][key] == trainable(model) == 2_655_746


def test_the_tiny_gpt_has_the_handouts_shape():
    """What the students' code is written for: attention and feed-forward as nn.Linear, a two-class out_head."""
    model = gpt.classifier()
    linears = {name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    assert {"trf_blocks.0.att.W_query", "trf_blocks.0.att.W_key", "trf_blocks.0.att.W_value",
            "trf_blocks.0.att.out_proj", "trf_blocks.0.ff.layers.0", "trf_blocks.0.ff.layers.2", "out_head"} <= linears
    assert model.out_head.out_features == 2 and gpt.last_token_logits(model, gpt.encode(["hi"])).shape == (1, 2)
    assert torch.equal(gpt.classifier().tok_emb.weight, model.tok_emb.weight)  # the same weights every time
