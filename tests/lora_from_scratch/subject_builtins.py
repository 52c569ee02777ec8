"""What the lora-from-scratch suite's judge needs made on the subject's side: the handout's tiny GPT spam
classifier (and the GPT-2 small one, on the meta device, to count on), and a few optimiser steps with the
handout's loss. Each builtin takes the subject's ``Server`` first (``judging/subject.py``)."""

import torch
import torch.nn.functional as F

from ..judging.subject import Server
from . import gpt


def model(server: Server, dtype=None, device=None):
    """A fresh tiny classifier, the same weights every time, every parameter trainable, eval mode."""
    made = gpt.classifier().to(device or server.device).eval()
    return made.to(dtype) if dtype is not None else made


def gpt2_small(server: Server):
    """The handout's GPT-2 small classifier (124M parameters) on the meta device: shapes, no memory."""
    with torch.device("meta"):
        return gpt.classifier(gpt.GPT2_SMALL)


def adamw_steps(server: Server, model, input_ids, labels, lr: float, steps: int):
    """AdamW on the trainable parameters, in training mode, on one batch: the handout's loss (cross-entropy of the
    last position's logits) at each step."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(gpt.last_token_logits(model, input_ids), labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


BUILTINS = {function.__name__: function for function in (model, gpt2_small, adamw_steps)}
