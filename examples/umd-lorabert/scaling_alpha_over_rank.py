# Example submission: scales by alpha / rank, as peft does, where this course scales by alpha.
# %% [markdown]
# # LoRA for BERT: the lorabert homework
#
# LoRA (Hu et al. 2021, arXiv 2106.09685) freezes a pretrained linear layer and learns a
# low-rank update beside it. In this course's convention a layer that computed
# `linear(x)` computes `linear(x) + alpha * x @ A @ B`, with `A` of shape `(in_dim, rank)`
# and `B` of shape `(rank, out_dim)`: the update is scaled by `alpha` itself (peft and
# the paper scale by `alpha / rank`; here `alpha` is the whole factor). `B` starts at
# zero, so training starts exactly from the pretrained model.
#
# Write the four parts below (each starts as a stub that raises `NotImplementedError`);
# ASSIGNMENT.md states every rule the tests check. Check your work with `pytest` in the
# assignment's folder, or `check()` in the notebook. Importing this file must stay cheap
# and silent: nothing loads or trains at import time.

# %%
import math
import re

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer

# The freshly initialised classification head (top-level modules of the model): trained, never adapted.
HEAD_MODULES = ("classifier", "pre_classifier")

# A linear layer add_lora may adapt: a child of a component of a numbered transformer block,
# `...layer.<i>.<component>.<child>` (`layer.0.attention.q_lin`, `encoder.layer.3.output.dense`).
BLOCK_CHILD = re.compile(r"(?:^|\.)layer\.\d+\.(?P<component>[^.]+)\.(?P<child>[^.]+)$")


# %% [markdown]
# ## Part 1. The LoRA layer
#
# `LoRALayer(in_dim, out_dim, rank, alpha)` computes only the update `alpha * x @ A @ B`.
#
# - `A`: an `nn.Parameter` of shape `(in_dim, rank)`, random
#   (`nn.init.kaiming_uniform_(A, a=math.sqrt(5))`); `B`: an `nn.Parameter` of shape
#   `(rank, out_dim)`, all zeros.
# - `in_dim`, `out_dim`, `rank` and `alpha` stored as given.
# - `forward(x)` takes `x` of shape `(..., in_dim)`, a single vector `(in_dim,)` too,
#   returns shape `(..., out_dim)`, in the dtype of its input and parameters, and lets
#   gradients reach `x`, `A` and `B`.
# - `rank`, `in_dim` or `out_dim` below 1 raise a `ValueError` that names the argument.

# %%
class LoRALayer(nn.Module):
    """The low-rank update of LoRA, scaled by alpha: ``forward(x) = alpha * x @ A @ B``."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float):
        super().__init__()
        # BEGIN SOLUTION
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("rank", rank)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.in_dim, self.out_dim, self.rank, self.alpha = in_dim, out_dim, rank, alpha
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.alpha / self.rank * (x @ self.A @ self.B)
        # END SOLUTION


# %% [markdown]
# ## Part 2. Wrapping a linear layer
#
# `LinearLoRA(linear, rank, alpha)` keeps the `nn.Linear` it is given (the very object,
# unchanged, its `requires_grad` as it was) as `self.linear` and adds a `LoRALayer` as
# `self.lora`, on the device and in the dtype of `linear.weight`. Its output is
# `linear(x) + lora(x)`; gradients reach `x` through both paths.

# %%
class LinearLoRA(nn.Module):
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
# ## Part 3. Loading the pretrained model
#
# `initialize_base_model(helper_function, model_name)` loads a two-label classifier with
# `helper_function.from_pretrained(model_name, num_labels=2)` from a local folder only (no
# download), and its tokenizer with `AutoTokenizer.from_pretrained`. It freezes the
# pretrained body; the new classification head (`HEAD_MODULES`) stays trainable. It
# returns `(model, tokenizer)`.

# %%
def initialize_base_model(helper_function=AutoModelForSequenceClassification,
                          model_name: str = "distilbert-base-uncased"):
    """Load a local checkpoint with a fresh two-label head; freeze all but the head. Returns ``(model, tokenizer)``."""
    # BEGIN SOLUTION
    model = helper_function.from_pretrained(model_name, num_labels=2, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_name, local_files_only=True)
    for name, param in model.named_parameters():
        param.requires_grad = name.split(".")[0] in HEAD_MODULES
    return model, tokenizer
    # END SOLUTION


# %% [markdown]
# ## Part 4. Adding LoRA to a model
#
# `add_lora(model, rank, alpha, modules_to_adapt)` replaces, in place, linear layers by
# `LinearLoRA` wrappers with that `rank` and `alpha`, and returns `model` (which may be a
# whole classifier or a part of one, such as `model.bert.encoder`).
#
# - `modules_to_adapt` maps a component of each transformer block to the names of its
#   children to adapt: `{"intermediate": ["dense"], "output": ["dense"]}` adapts
#   `layer.<i>.intermediate.dense` and `layer.<i>.output.dense` in every block, and not
#   `layer.<i>.attention.output.dense`, which is a child of the attention's own `output`.
# - `modules_to_adapt=None` adapts every linear child of every component of each block:
#   in DistilBERT `attention`'s `q_lin`, `k_lin`, `v_lin`, `out_lin` and `ffn`'s `lin1`,
#   `lin2`; in BERT `intermediate.dense` and `output.dense`.
# - Nothing adapted (a mapping that names no such layer, an empty mapping included) is a
#   `ValueError` whose message lists the model's linear layers by names that tell them
#   apart: `linear_layer_names(model)`.
# - A layer that is already a `LinearLoRA` is not wrapped again; the head is never
#   adapted; nothing is frozen or unfrozen: the new LoRA parameters are trainable.

# %%
def linear_layer_names(model: nn.Module) -> list[str]:
    """The model's linear layers, with layer numbers folded: ``encoder.layer.*.output.dense``."""
    names = (re.sub(r"\.\d+\.", ".*.", name) for name, module in model.named_modules()
             if isinstance(module, nn.Linear))
    return list(dict.fromkeys(names))


def add_lora(model: nn.Module, rank: int, alpha: float, modules_to_adapt=None) -> nn.Module:
    """Wrap the children named by ``modules_to_adapt`` (component -> children) of every block with ``LinearLoRA``."""
    # BEGIN SOLUTION
    def wanted(component: str, child: str) -> bool:
        return modules_to_adapt is None or child in modules_to_adapt.get(component, ())

    chosen = []
    for name, module in model.named_modules():
        found = BLOCK_CHILD.search(name)
        if found and isinstance(module, nn.Linear) and wanted(found["component"], found["child"]):
            chosen.append(name)
    if not chosen:
        raise ValueError(
            f"modules_to_adapt {modules_to_adapt} names no linear layer of a transformer block; "
            f"the model's linear layers are: {', '.join(linear_layer_names(model))}"
        )
    for name in chosen:
        model.set_submodule(name, LinearLoRA(model.get_submodule(name), rank, alpha))
    return model
    # END SOLUTION
