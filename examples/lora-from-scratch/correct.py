# Example submission: correct.
# %% [markdown]
# # LoRA from scratch on a GPT: the spam classifier
#
# You take the GPT you built (its attention's projections `W_query`, `W_key`, `W_value`,
# `out_proj` and its feed-forward layers are plain `nn.Linear`), whose output head
# `out_head` now gives two classes, ham and spam, and fine-tune it with LoRA (Hu et al.
# 2021, arXiv 2106.09685) instead of training all of it. A layer that computed `linear(x)`
# computes `linear(x) + alpha * x @ A @ B`, with `A` of shape `(in_dim, rank)` and `B` of
# shape `(rank, out_dim)`: the update is scaled by `alpha` itself, as in the book's
# appendix. `B` starts at zero, so training starts exactly from the pretrained model.
#
# Write the four parts below (each starts as a stub that raises `NotImplementedError`);
# ASSIGNMENT.md states every rule the tests check. Check your work with `pytest` in the
# assignment's folder, or `check()` in the notebook. Importing this file must stay cheap
# and silent: nothing loads or trains at import time.

# %%
import math

import torch
from torch import nn

HEAD = "out_head"  # the classification head: trained as it is, never wrapped


# %% [markdown]
# ## Part 1. The LoRA layer
#
# `LoRALayer(in_dim, out_dim, rank, alpha)` computes only the update `alpha * x @ A @ B`.
#
# - `A`: an `nn.Parameter` of shape `(in_dim, rank)`, random
#   (`nn.init.kaiming_uniform_(A, a=math.sqrt(5))`); `B`: an `nn.Parameter` of shape
#   `(rank, out_dim)`, all zeros; no other parameter.
# - `alpha` stored as given, as `self.alpha`.
# - `forward(x)` takes `x` of shape `(..., in_dim)` and returns shape `(..., out_dim)`, in
#   the dtype of its input and parameters, computed from `A` and `B` as they are at that
#   call.

# %%
class LoRALayer(nn.Module):
    """The low-rank update of LoRA, scaled by alpha: ``forward(x) = alpha * x @ A @ B``."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float):
        super().__init__()
        # BEGIN SOLUTION
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.alpha * (x @ self.A @ self.B)
        # END SOLUTION


# %% [markdown]
# ## Part 2. Wrapping a linear layer
#
# `LinearWithLoRA(linear, rank, alpha)` keeps the `nn.Linear` it is given (the very
# object, unchanged) as `self.linear` and adds
# `LoRALayer(linear.in_features, linear.out_features, rank, alpha)` as `self.lora`, on the
# device and in the dtype of `linear.weight`. Its output is `linear(x) + lora(x)`.

# %%
class LinearWithLoRA(nn.Module):
    """A pretrained ``nn.Linear`` plus a trainable low-rank update: ``linear(x) + lora(x)``."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float):
        super().__init__()
        # BEGIN SOLUTION
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)
        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.linear(x) + self.lora(x)
        # END SOLUTION


# %% [markdown]
# ## Part 3. Every linear layer but the head
#
# `replace_linear_with_lora(model, rank, alpha)` replaces, in place and at every depth
# (the attention's projections inside each block, the feed-forward layers inside their
# `nn.Sequential`), each `nn.Linear` by a `LinearWithLoRA(linear, rank, alpha)` wrapping
# it, except the output head `out_head`, which stays the `nn.Linear` it is. It returns
# nothing that is graded: the model itself is changed.

# %%
def replace_linear_with_lora(model: nn.Module, rank: int, alpha: float) -> None:
    """Wrap each ``nn.Linear`` of ``model`` but ``out_head`` in a ``LinearWithLoRA``, recursively, in place."""
    # BEGIN SOLUTION
    for name, child in model.named_children():
        if name == HEAD:
            continue
        if isinstance(child, nn.Linear):
            setattr(model, name, LinearWithLoRA(child, rank, alpha))
        else:
            replace_linear_with_lora(child, rank, alpha)
    # END SOLUTION


# %% [markdown]
# ## Part 4. What trains
#
# `freeze_and_activate_lora(model)` makes exactly these parameters trainable
# (`requires_grad=True`), whatever the flags were before, and every other one frozen:
# the `A` and `B` of each `LoRALayer` in the model, and the parameters of `out_head`,
# the new head, which must learn the two classes. In place; its return value is not
# graded.

# %%
def freeze_and_activate_lora(model: nn.Module) -> None:
    """Freeze ``model``, then make each LoRALayer's A and B and the head trainable."""
    # BEGIN SOLUTION
    for param in model.parameters():
        param.requires_grad = False
    for module in model.modules():
        if isinstance(module, LoRALayer):
            for param in module.parameters():
                param.requires_grad = True
    head = getattr(model, HEAD, None)
    if head is not None:
        for param in head.parameters():
            param.requires_grad = True
    # END SOLUTION
