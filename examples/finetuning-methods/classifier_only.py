# Example submission: only the last layer, classifier, trains: DistilBERT's pre_classifier stays frozen.
# %% [markdown]
# # Fine-tuning methods compared: everything, the final layers, LoRA
#
# You fine-tune a pretrained encoder (DistilBERT, or BERT) to classify sentiment in three
# ways and compare them: every parameter trained; the final layers only (the
# classification head on top of the pretrained body); and LoRA (Hu et al. 2021, arXiv
# 2106.09685), where the attention's query and value layers get a trainable low-rank
# update and nothing else of the body trains. On the way you count what trains, and you
# write the tool LoRA needs: finding layers by name and replacing them.
#
# A layer that computed `pretrained(x)` computes, with LoRA,
# `pretrained(x) + (alpha / rank) * B(A(x))`, where `A` and `B` are `nn.Linear` layers
# without bias (`A` maps the layer's input to `rank` features, `B` maps those to its
# output) and `B` starts at zero, so that training starts exactly from the pretrained
# model.
#
# Write the parts below (each starts as a stub that raises `NotImplementedError`);
# ASSIGNMENT.md states every rule the tests check. Check your work with `pytest` in the
# assignment's folder, or `check()` in the notebook. Importing this file must stay cheap
# and silent: nothing loads or trains at import time.

# %%
import numpy as np
import torch
from torch import nn
from transformers import Trainer, TrainingArguments

QUERY_AND_VALUE = ("q_lin", "v_lin", "query", "value")  # DistilBERT's names, then BERT's


# %% [markdown]
# ## Part 1. Counting what trains
#
# `count_trainable_parameters(model)` returns the number of parameters that training would
# change: the elements of every parameter with `requires_grad=True`, a parameter shared
# by two modules counted once. As an `int`. The handout's sanity check: DistilBERT base
# with a two-label head has 66,955,010.

# %%
def count_trainable_parameters(model: nn.Module) -> int:
    """The number of trainable parameter elements of ``model``, each parameter counted once."""
    # BEGIN SOLUTION
    return sum(param.numel() for param in model.parameters() if param.requires_grad)
    # END SOLUTION


# %% [markdown]
# ## Part 2. Tuning the final layers only
#
# `tune_final_layers_only(model)` freezes the pretrained body, `model.base_model`
# (`model.distilbert`, `model.bert`), and makes every other parameter trainable: the
# classification head on top (DistilBERT's `pre_classifier` and `classifier`, BERT's
# `classifier`), whatever the flags were before. In place; it returns the model.
# DistilBERT base then trains 592,130 parameters.

# %%
def tune_final_layers_only(model: nn.Module) -> nn.Module:
    """Freeze ``model.base_model``; make every parameter outside it trainable."""
    # BEGIN SOLUTION
    body = {id(param) for param in model.base_model.parameters()}
    for param in model.parameters():
        param.requires_grad = False
    for param in model.classifier.parameters():
        param.requires_grad = True
    return model
    # END SOLUTION


# %% [markdown]
# ## Part 3. Interlude: finding and replacing layers
#
# `extract_qv_layers(model)` returns a dictionary from the qualified name
# (`distilbert.transformer.layer.0.attention.q_lin`) to the layer itself, for every
# `nn.Linear` of the model whose own name is `q_lin` or `v_lin` (DistilBERT's query and
# value) or `query` or `value` (BERT's); nothing else.
#
# `replace_layers(model, named_layers)` puts each module of `named_layers` (a dictionary
# from a qualified name to a module) in the model at that name, in place of what was
# there, at any depth; it changes nothing else.

# %%
def extract_qv_layers(model: nn.Module) -> dict[str, nn.Linear]:
    """Every query and value ``nn.Linear`` of ``model``, by qualified name."""
    # BEGIN SOLUTION
    return {name: module for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and name.rpartition(".")[2] in QUERY_AND_VALUE}
    # END SOLUTION


def replace_layers(model: nn.Module, named_layers: dict[str, nn.Module]) -> None:
    """Put each module of ``named_layers`` at its qualified name in ``model``."""
    # BEGIN SOLUTION
    for name, layer in named_layers.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer)
    # END SOLUTION


# %% [markdown]
# ## Part 4. The LoRA layer
#
# `LinearLoRA(pretrained, rank, alpha)` keeps the `nn.Linear` it is given (the very
# object, its weights unchanged) as `self.pretrained`, with its parameters frozen, and adds
# two `nn.Linear` layers without bias, on the device and in the dtype of
# `pretrained.weight`: `self.A`, from `pretrained.in_features` to `rank` (its default
# random initialisation), and `self.B`, from `rank` to `pretrained.out_features`, all
# zeros. `self.scaling` is `alpha / rank`. `forward(x)` returns
# `pretrained(x) + scaling * B(A(x))`.

# %%
class LinearLoRA(nn.Module):
    """A frozen pretrained ``nn.Linear`` plus a trainable low-rank update, scaled by alpha / rank."""

    def __init__(self, pretrained: nn.Linear, rank: int, alpha: float):
        super().__init__()
        # BEGIN SOLUTION
        self.pretrained = pretrained
        self.pretrained.requires_grad_(False)
        like = {"device": pretrained.weight.device, "dtype": pretrained.weight.dtype}
        self.A = nn.Linear(pretrained.in_features, rank, bias=False, **like)
        self.B = nn.Linear(rank, pretrained.out_features, bias=False, **like)
        nn.init.zeros_(self.B.weight)
        self.scaling = alpha / rank
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.pretrained(x) + self.scaling * self.B(self.A(x))
        # END SOLUTION


# %% [markdown]
# ## Part 5. The LoRA model
#
# `make_lora_model(model, rank, alpha)` freezes the pretrained body, replaces each query
# and value layer (`extract_qv_layers`) by a `LinearLoRA(layer, rank, alpha)` wrapping it
# (`replace_layers`), and leaves trainable exactly the `A` and `B` of each `LinearLoRA`
# and the final layers (everything outside `model.base_model`). In place; it returns the
# model. DistilBERT base at rank 8 then trains 739,586 parameters.

# %%
def make_lora_model(model: nn.Module, rank: int, alpha: float) -> nn.Module:
    """Wrap every query and value layer in a LinearLoRA; train LoRA and the final layers only."""
    # BEGIN SOLUTION
    tune_final_layers_only(model)
    wrapped = {name: LinearLoRA(layer, rank, alpha) for name, layer in extract_qv_layers(model).items()}
    replace_layers(model, wrapped)
    return model
    # END SOLUTION


# %% [markdown]
# ## Part 6. Training with the Trainer
#
# `make_trainer(model, train_dataset, eval_dataset, output_dir, learning_rate, epochs,
# batch_size)` returns a `transformers.Trainer`, not yet trained, for the model and the two
# data sets (each a sequence of examples with `input_ids`, `attention_mask` and `labels`),
# whose `TrainingArguments` say: that `output_dir`, that learning rate, `epochs` epochs,
# batches of `batch_size` for training and for evaluation, an evaluation at the end of
# each epoch, no checkpoint saved (`save_strategy="no"`) and no report to any tracker
# (`report_to="none"`). Its `compute_metrics` gives the accuracy, so that
# `trainer.evaluate()` reports `eval_accuracy`: the fraction of examples whose highest
# logit is their label. The same function trains each of the three set-ups.

# %%
def accuracy(prediction) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: the fraction of examples whose highest logit is their label."""
    # BEGIN SOLUTION
    logits, labels = prediction.predictions, prediction.label_ids
    return {"accuracy": float(np.mean(np.argmax(logits, axis=-1) == labels))}
    # END SOLUTION


def make_trainer(model: nn.Module, train_dataset, eval_dataset, output_dir: str, learning_rate: float,
                 epochs: int, batch_size: int) -> Trainer:
    """A Trainer that evaluates accuracy each epoch and saves and reports nothing."""
    # BEGIN SOLUTION
    arguments = TrainingArguments(
        output_dir=output_dir, learning_rate=learning_rate, num_train_epochs=epochs,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=batch_size,
        eval_strategy="epoch", save_strategy="no", report_to="none")
    return Trainer(model=model, args=arguments, train_dataset=train_dataset, eval_dataset=eval_dataset,
                   compute_metrics=accuracy)
    # END SOLUTION


# %% [markdown]
# ## Comparing the three (not graded)
#
# With your functions, fine-tune a fresh model each way on the same data and compare the
# trainable counts, the time an epoch takes and the accuracy `trainer.evaluate()` reports.
# Write what you see in your report.
