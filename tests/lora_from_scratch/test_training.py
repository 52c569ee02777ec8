"""The whole recipe: replace_linear_with_lora, then freeze_and_activate_lora, then training the spam classifier;
and the handout's trainable count on GPT-2 small."""

import math

import torch

from ..judging.checks import equal, expect, names
from ..judging.protocol import Placed
from . import gpt
from .assets import CONVENTIONS, DATASET

GPT2_SMALL_LORA = "gpt2-small classifier, LoRA r=16 on every Linear but out_head, out_head trainable"  # [figures]


def test_training_moves_only_lora_and_the_head_and_lowers_the_loss(lora, base_model, device):
    model = base_model()
    lora.replace_linear_with_lora(model, 4, 8.0)
    lora.freeze_and_activate_lora(model)
    before = model.tensors()
    texts, labels = gpt.messages(DATASET)
    input_ids, targets = gpt.encode(texts[:32]), torch.tensor(labels[:32])
    losses = lora.builtin("adamw_steps", model, Placed(input_ids, device.type), Placed(targets, device.type),
                          lr=0.02, steps=12)
    expect(isinstance(losses, list) and len(losses) == 12 and all(math.isfinite(x) for x in losses)
           and losses[-1] < 0.8 * losses[0], "after replace_linear_with_lora and freeze_and_activate_lora, 12 AdamW "
           "steps on 32 messages lower the classifier's loss", "the last loss below 80% of the first",
           [round(x, 3) for x in losses] if isinstance(losses, list) else losses)
    after = model.tensors()
    moved = sorted(name for name in before if name in after and not equal(after[name], before[name]))
    outside = [name for name in moved if ".lora." not in name and not name.startswith("out_head.")]
    expect(not outside, "training changes only LoRA's A and B and the head: the pretrained weights stay frozen",
           "no other parameter changed", f"changed: {names(outside)}")
    learnt = [name for name in moved if name.endswith(".lora.B")]
    expect(learnt, "training reaches LoRA's B matrices (a gradient flows through each LinearWithLoRA)",
           "some lora.B changed", "none changed")


def test_the_handouts_count_on_gpt2_small(lora):
    model = lora.builtin("gpt2_small")
    lora.replace_linear_with_lora(model, 16, 16)
    lora.freeze_and_activate_lora(model)
    found = sum(math.prod(p["shape"]) for p in model.parameters() if p["requires_grad"])
    expected = CONVENTIONS.figures[GPT2_SMALL_LORA]
    expect(found == expected, f"GPT-2 small ({CONVENTIONS.module}: replace_linear_with_lora(model, rank=16, "
           "alpha=16), then freeze_and_activate_lora): the trainable parameters are LoRA's and the head's",
           f"{expected:,}", f"{found:,}")
