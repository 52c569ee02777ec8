"""What this suite's judge needs made on the subject's side (``judging/subject.py``'s builtins, for BERT packs):
a fresh tiny model from the subject's read-only copy, a model from a configuration, a few optimiser steps, the
paths of its models and data, and LoRA-shaped parameters to count on.

Each builtin takes the subject's ``Server`` first; the subject imports this module before it is forked, and
before the submission, so nothing here is the submission's.
"""

import torch
from torch import nn

from ..judging import pristine
from ..judging.subject import Refused, Server
from .assets import HEAD_MODULES


def model(server: Server, name: str, num_labels: int = 2, dtype=None, device=None):
    """A fresh tiny model: body frozen, head trainable, eval mode (the judge's ``base_model``)."""
    made = pristine.fresh(server.models, name, num_labels).to(device or server.device).eval()
    if dtype is not None:
        made.to(dtype)
    for param_name, param in made.named_parameters():
        param.requires_grad = param_name.split(".")[0] in HEAD_MODULES
    return made


def from_config(server: Server, model_type: str, meta: bool = False, **config):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    configuration = AutoConfig.for_model(model_type, **config)
    if meta:
        with torch.device("meta"):
            return AutoModelForSequenceClassification.from_config(configuration)
    return AutoModelForSequenceClassification.from_config(configuration)


def adamw_steps(server: Server, model, batches, lr: float, weight_decay: float = 0.01, trainable_only=False):
    """AdamW steps, one per batch, in training mode; the loss of each step."""
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    model.train()
    device = next(model.parameters()).device
    losses = []
    for batch in batches:
        optimizer.zero_grad()
        loss = model(**{key: value.to(device) for key, value in batch.items()}).loss
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def model_path(server: Server, name: str) -> str:
    """Where this side's read-only copy of a tiny model is, for the submission's own loading code."""
    return str(server.models / name)


def dataset_path(server: Server) -> str:
    return str(server.models.parent / "data" / "reviews.csv")


def low_rank_shaped(server: Server, model, layers: dict):
    """Trainable parameters of LoRA's shapes, ``(in, rank)`` and ``(rank, out)``, on the named ``nn.Linear``
    layers (qualified name -> rank, chosen by the judge), held by a module of the suite's own type: a model
    to count on that does not depend on the submission's ``add_lora``. They compute nothing."""
    for name, rank in layers.items():
        linear = model.get_submodule(name)
        if not isinstance(linear, nn.Linear):
            raise Refused(f"{name} is not an nn.Linear")
        linear.low_rank_shaped = _LowRankShaped(linear, int(rank))
    return model


class _LowRankShaped(nn.Module):
    def __init__(self, linear: nn.Linear, rank: int):
        super().__init__()
        like = {"device": linear.weight.device, "dtype": linear.weight.dtype}
        self.A = nn.Parameter(torch.zeros(linear.in_features, rank, **like))
        self.B = nn.Parameter(torch.zeros(rank, linear.out_features, **like))


BUILTINS = {function.__name__: function
            for function in (model, from_config, adamw_steps, model_path, dataset_path, low_rank_shaped)}
