# Example submission: initialize_base_model freezes nothing.
# %% [markdown]
# # Fine-tuning BERT with LoRA
#
# LoRA (Hu et al. 2021, arXiv 2106.09685) freezes a pretrained weight matrix `W` and
# learns a low-rank update instead: a layer that computed `x @ W.T + b` computes
# `x @ W.T + b + scaling * x @ A @ B`, with `A` of shape `(in_dim, rank)`, `B` of shape
# `(rank, out_dim)` and `scaling = alpha / rank`. `B` starts at zero, so training starts
# exactly from the pretrained model; only `A`, `B` and the new classification head are
# trained, a small fraction of the model's parameters.
#
# This file is the whole assignment: the parts you write (each starts as a stub that
# raises `NotImplementedError`) and the parts that are provided (data, training,
# evaluation, command line). ASSIGNMENT.md states every rule the tests check. Run it on
# a tiny model with
#
#     python lora_bert.py --model tiny_models/bert-tiny
#
# and check your work with the public tests, part by part with your points, by calling
# `check()` (at the end of this file) or running `pytest` in the assignment's folder.
# Importing it must stay cheap and silent: nothing trains or prints at import time.

# %%
import argparse
import csv
import math
import os
import random
import re
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

# The layers `add_lora` wraps when it is given no `target_modules`, by `model.config.model_type`.
DEFAULT_TARGET_MODULES = {"bert": ("query", "value"), "distilbert": ("q_lin", "v_lin")}

# The freshly initialised classification head (top-level modules of the model): it is
# trained in every set-up and never wrapped with LoRA.
HEAD_MODULES = ("classifier", "pre_classifier")


# %% [markdown]
# ## Part 1. The LoRA layer
#
# `LoRALayer` computes only the low-rank update `scaling * dropout(x) @ A @ B`; it knows
# nothing of the layer it will sit beside.
#
# - `A`: an `nn.Parameter` of shape `(in_dim, rank)`, random (use
#   `nn.init.kaiming_uniform_(A, a=math.sqrt(5))`).
# - `B`: an `nn.Parameter` of shape `(rank, out_dim)`, all zeros.
# - `rank`, `alpha`, `in_dim`, `out_dim` stored as given, and `scaling = alpha / rank`
#   (a float: `16 / 3` is `5.33...`, not `5`).
# - `forward(x)` takes `x` of shape `(..., in_dim)`, a single vector `(in_dim,)` too, and
#   returns shape `(..., out_dim)`. Dropout acts on the input of the LoRA path only
#   (not after `A`, not on the output), and only in training mode: `nn.Dropout(dropout)`
#   does exactly that (zeroes each element with probability `dropout`, a new draw for
#   every element at every call, scales the others by `1 / (1 - dropout)`, and does
#   nothing in eval mode). It computes in the dtype of
#   its input and parameters (no `.float()` on the way): a float64 layer keeps float64's
#   precision.
# - `rank`, `in_dim` or `out_dim` below 1, or a dropout outside `[0, 1)`, raise a
#   `ValueError` that names the argument.

# %%
class LoRALayer(nn.Module):
    """The low-rank update of LoRA: ``forward(x) = scaling * dropout(x) @ A @ B``."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        # BEGIN SOLUTION
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("rank", rank)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_dim, self.out_dim, self.rank, self.alpha = in_dim, out_dim, rank, alpha
        self.scaling = alpha / rank
        # A random and B zero: the update B^T A^T is zero at the start, yet B's gradient is not.
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        # nn.Dropout(0.0) still runs a kernel in training mode: no layer at all when nothing is dropped.
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.scaling * (self.dropout(x) @ self.A @ self.B)
        # END SOLUTION


# %% [markdown]
# ## Part 2. Wrapping a linear layer
#
# `LinearLoRA` keeps the pretrained `nn.Linear` it is given (the very object: its weight
# and bias are not copied, changed or re-initialised) as `self.linear`, and adds a
# `LoRALayer` as `self.lora`, whose parameters must sit on the device and in the dtype
# of `linear.weight`. Its output is `linear(x) + lora(x)`: right after wrapping, exactly
# the wrapped layer's output, because `B` is zero. Gradients reach `x` through both paths
# (no `.detach()`). Freezing is not its job: `linear`'s parameters keep their
# `requires_grad`, so that wrapping a layer that trains leaves it training.

# %%
class LinearLoRA(nn.Module):
    """A pretrained ``nn.Linear`` plus a trainable low-rank update: ``linear(x) + lora(x)``."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        # BEGIN SOLUTION
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha, dropout)
        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.linear(x) + self.lora(x)
        # END SOLUTION


# %% [markdown]
# ## Part 3. Loading the pretrained model
#
# `initialize_base_model(model_path, num_labels)` loads the model with
# `AutoModelForSequenceClassification.from_pretrained` and its tokenizer with
# `AutoTokenizer.from_pretrained`, from a local folder only (no download). It then
# freezes the pretrained body (`requires_grad = False`); the classification head, which
# `from_pretrained` has just created with random weights, stays trainable: that is
# `classifier`, and `pre_classifier` where the architecture has one (`HEAD_MODULES`).

# %%
def initialize_base_model(model_path: str, num_labels: int = 2):
    """Load a local checkpoint with a fresh ``num_labels``-way head; freeze all but the head.

    Returns ``(model, tokenizer)``.
    """
    # BEGIN SOLUTION
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=num_labels, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    for name, param in model.named_parameters():
        param.requires_grad = True
    return model, tokenizer
    # END SOLUTION


# %% [markdown]
# ## Part 4. Adding LoRA to a model
#
# `add_lora(model, rank, alpha, target_modules, dropout)` replaces, in place, each
# `nn.Linear` whose qualified name (as in `model.named_modules()`) equals an entry of
# `target_modules` or ends with `"." + entry` by a `LinearLoRA` wrapping it, and returns
# the model. So `"query"` matches `bert.encoder.layer.0.attention.self.query`,
# `"intermediate.dense"` matches only the intermediate dense layers, and `"ery"` matches
# nothing. These are the rules peft uses for its `target_modules`.
#
# - `target_modules=None` means the architecture's default (`DEFAULT_TARGET_MODULES`);
#   any other architecture without targets is a `ValueError`.
# - The classification head (`HEAD_MODULES`) is never wrapped; a layer that is already
#   a `LinearLoRA` is not wrapped again (calling `add_lora` twice changes nothing).
# - No match at all (an empty list included) is a `ValueError` whose message lists the
#   model's linear layers by names that tell them apart: `linear_layer_names(model)`.
# - Freezing is not `add_lora`'s job: the new LoRA parameters are trainable, the others
#   keep their `requires_grad`, trainable or frozen.
# - Every LoRA it builds gets the `rank`, `alpha` and `dropout` it was given.
# - On a model on a GPU, or in float64 or bfloat16, the LoRA parameters sit on that
#   device and in that dtype (`LinearLoRA` takes care of it) and stay registered
#   `nn.Parameter`s.
#
# `nn.Module.set_submodule(name, module)` replaces a submodule by its qualified name.

# %%
def linear_layer_names(model: nn.Module) -> list[str]:
    """The model's linear layers, with layer numbers folded: ``encoder.layer.*.attention.self.query``."""
    names = (re.sub(r"\.\d+\.", ".*.", name) for name, module in model.named_modules()
             if isinstance(module, nn.Linear))
    return list(dict.fromkeys(names))


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16, target_modules=None,
             dropout: float = 0.0) -> nn.Module:
    """Wrap the linear layers named by ``target_modules`` (name or ``.``-suffix) with ``LinearLoRA``."""
    # BEGIN SOLUTION
    if target_modules is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type not in DEFAULT_TARGET_MODULES:
            raise ValueError(
                f"target_modules: no default for model type {model_type!r}; "
                f"pass the names of the layers to wrap, e.g. target_modules=['query', 'value']"
            )
        target_modules = DEFAULT_TARGET_MODULES[model_type]
    if isinstance(target_modules, str):
        target_modules = [target_modules]

    def is_target(name: str) -> bool:
        return any(name == entry or name.endswith("." + entry) for entry in target_modules)

    modules = dict(model.named_modules())
    matched = []
    for name, module in modules.items():
        in_head = name.split(".")[0] in HEAD_MODULES
        inside_wrapper = isinstance(modules.get(name.rpartition(".")[0]), LinearLoRA)  # a LinearLoRA's .linear
        if isinstance(module, (nn.Linear, LinearLoRA)) and is_target(name) and not in_head and not inside_wrapper:
            matched.append(name)
    if not matched:
        raise ValueError(
            f"target_modules {list(target_modules)} match no linear layer outside the head; "
            f"the model's linear layers are: {', '.join(linear_layer_names(model))}"
        )
    for name in matched:
        if isinstance(modules[name], nn.Linear):  # a LinearLoRA is already wrapped
            model.set_submodule(name, LinearLoRA(modules[name], rank, alpha, dropout))
    return model
    # END SOLUTION


# %% [markdown]
# ## Part 5. Counting trainable parameters
#
# `count_trainable_parameters(model)` is the number of scalars training would update:
# parameters with `requires_grad`, a tensor shared between two modules counted once,
# as an `int`. With LoRA of rank `r` on some linear layers the count is the head plus
# `r * (in_features + out_features)` per wrapped layer. For a 2-label classifier:
#
# | model | set-up | trainable parameters |
# | --- | --- | --- |
# | DistilBERT base | everything trainable | 66,955,010 |
# | DistilBERT base | head only (`pre_classifier`, `classifier`) | 592,130 |
# | DistilBERT base | head + LoRA r=8 on `q_lin`, `v_lin` | 739,586 |
# | BERT base | head + LoRA r=8 on `query`, `value` | 296,450 |

# %%
def count_trainable_parameters(model: nn.Module) -> int:
    """How many scalars training would update (shared tensors counted once)."""
    # BEGIN SOLUTION
    return sum(param.numel() for param in model.parameters() if param.requires_grad)
    # END SOLUTION


# %% [markdown]
# ## Part 6. Merging LoRA into the weights
#
# After training, `W + scaling * (A @ B).T` is an ordinary weight matrix: `merge_lora`
# replaces every `LinearLoRA` by a plain `nn.Linear` with that weight (bias unchanged;
# a layer without a bias stays without one), so inference costs what the base model
# costs. A new `nn.Linear` you build must sit on the device and in the dtype of the
# layer it replaces (`nn.Linear(..., device=..., dtype=...)`); updating the wrapped
# layer's weight in place keeps them anyway. The merged model's outputs equal the
# unmerged model's (within `1e-5` in float32) and its parameter count is the base
# model's again.

# %%
def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every ``LinearLoRA`` into its linear layer: ``W += scaling * (A @ B).T``."""
    # BEGIN SOLUTION
    wrapped = [(name, module) for name, module in model.named_modules() if isinstance(module, LinearLoRA)]
    for name, module in wrapped:
        linear, lora = module.linear, module.lora
        with torch.no_grad():
            linear.weight += lora.scaling * (lora.A @ lora.B).T
        model.set_submodule(name, linear)
    return model
    # END SOLUTION


# %% [markdown]
# ## Part 7. Freezing layers, for comparison
#
# LoRA is one way to train a few parameters; training only the top of the network is
# another. `freeze_layers(model, num_trainable_layers)` freezes the embeddings and every
# transformer layer but the top `num_trainable_layers`; the classification head stays
# trainable. `0` trains the head alone; the number of layers trains everything.
# `transformer_layers(model)` gives you the list of layers, bottom first: find them by
# position, not by name (on twelve layers, `layer.1` is part of `layer.10`'s name).

# %%
def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The model's transformer layers, bottom first (BERT: ``encoder.layer``, DistilBERT: ``transformer.layer``)."""
    body = model.base_model
    return body.encoder.layer if hasattr(body, "encoder") else body.transformer.layer


def freeze_layers(model: nn.Module, num_trainable_layers: int) -> nn.Module:
    """Train only the head and the top ``num_trainable_layers`` transformer layers."""
    # BEGIN SOLUTION
    layers = transformer_layers(model)
    if not 0 <= num_trainable_layers <= len(layers):
        raise ValueError(f"num_trainable_layers must be between 0 and {len(layers)}, got {num_trainable_layers}")
    model.requires_grad_(num_trainable_layers == len(layers))  # every layer: the embeddings train too
    for layer in layers[len(layers) - num_trainable_layers:]:
        layer.requires_grad_(True)
    pooler = getattr(model.base_model, "pooler", None)  # BERT's pooler sits above the top layer
    if pooler is not None and num_trainable_layers > 0:
        pooler.requires_grad_(True)
    for name in HEAD_MODULES:
        if hasattr(model, name):
            getattr(model, name).requires_grad_(True)
    return model
    # END SOLUTION


# %% [markdown]
# ## Provided: data, training and evaluation
#
# Nothing below is graded. `load_reviews` reads the bundled data set (short movie
# reviews, 0 = negative, 1 = positive), `make_batches` tokenises it, `train` fine-tunes
# whatever parameters have `requires_grad` with AdamW and returns the loss of every step
# and the eval accuracy after every epoch, and `evaluate` computes an accuracy.

# %%
def load_reviews(path: str = "data/reviews.csv") -> dict[str, list[tuple[str, int]]]:
    """``{"train": [(text, label), ...], "test": [...]}`` from the bundled CSV file."""
    splits: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            splits[row["split"]].append((row["text"], int(row["label"])))
    return splits


def make_batches(tokenizer, examples, batch_size: int = 32, max_length: int = 64) -> list[dict]:
    """Tokenised batches (``input_ids``, ``attention_mask``, ``labels``), padded per batch."""
    batches = []
    for start in range(0, len(examples), batch_size):
        texts, labels = zip(*examples[start:start + batch_size], strict=True)
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt", return_token_type_ids=False)
        batch["labels"] = torch.tensor(labels)
        batches.append(dict(batch))
    return batches


@dataclass
class History:
    """What ``train`` measured: the loss of every optimiser step, the eval accuracy after every epoch."""

    step_losses: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)


@torch.no_grad()
def evaluate(model: nn.Module, batches, device="cpu") -> float:
    """Accuracy of ``model`` on ``batches``, in evaluation mode."""
    model.eval()
    correct = total = 0
    for batch in batches:
        batch = {key: value.to(device) for key, value in batch.items()}
        predictions = model(**batch).logits.argmax(dim=-1)
        correct += (predictions == batch["labels"]).sum().item()
        total += len(batch["labels"])
    return correct / total


def train(model: nn.Module, train_batches, eval_batches=(), *, epochs: int = 3, lr: float = 1e-2,
          weight_decay: float = 0.01, device="cpu", seed: int = 0, progress: bool = True) -> History:
    """Fine-tune the parameters with ``requires_grad`` using AdamW; batches are shuffled per epoch.

    With ``progress`` it shows a bar per epoch and prints each epoch's mean loss and accuracy.
    """
    torch.manual_seed(seed)
    order = random.Random(seed)
    model.to(device)
    trainable = [param for param in model.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    history = History()
    for epoch in range(1, epochs + 1):
        model.train()
        batches = list(train_batches)
        order.shuffle(batches)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False)
        for batch in bar:
            batch = {key: value.to(device) for key, value in batch.items()}
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.step_losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        mean_loss = sum(history.step_losses[-len(batches):]) / len(batches)
        summary = f"epoch {epoch}: train loss {mean_loss:.4f}"
        if eval_batches:
            history.eval_accuracy.append(evaluate(model, eval_batches, device))
            summary += f", eval accuracy {history.eval_accuracy[-1]:.3f}"
        if progress:
            tqdm.write(summary)
    return history


# %% [markdown]
# ## Provided: comparing fine-tuning methods
#
# `compare(...)` fine-tunes the same model on the bundled data in several ways: all of
# it, the head alone, the top layers (`freeze_layers`), and LoRA with a few ranks and
# target sets. For each it records how many parameters train, their share of the
# total, the final training loss, the eval accuracy and the time it took. Run it with
# `python lora_bert.py compare --model tiny_models/bert-tiny`; it prints a table and
# writes CSV, Markdown and (with matplotlib) a PNG of the loss curves and of accuracy
# against trainable parameters.

# %%
# Every linear layer of each architecture's transformer layers, for "LoRA everywhere".
ALL_LINEAR = {"bert": ("query", "key", "value", "dense"),
              "distilbert": ("q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2")}


def comparison_setups(model_type: str, num_layers: int) -> dict:
    """Name -> a function that prepares a freshly loaded model (body frozen, head trainable)."""
    setups = {"full fine-tuning": lambda m: freeze_layers(m, num_layers),
              "head only": lambda m: freeze_layers(m, 0)}
    for k in sorted({1, max(2, num_layers // 2)} & set(range(1, num_layers))):
        setups[f"top {k} layer{'s' if k > 1 else ''}"] = lambda m, k=k: freeze_layers(m, k)
    return setups | {
        "LoRA r=2, default targets": lambda m: add_lora(m, rank=2, alpha=4),
        "LoRA r=8, default targets": lambda m: add_lora(m, rank=8, alpha=16),
        "LoRA r=8, all linear layers": lambda m: add_lora(m, rank=8, alpha=16, target_modules=ALL_LINEAR[model_type]),
    }


def compare(model_path: str, data_path: str = "data/reviews.csv", *, epochs: int = 10, lr: float = 1e-2,
            batch_size: int = 32, seed: int = 0, device="cpu", only=None) -> list[dict]:
    """Fine-tune ``model_path`` once per set-up (``only``: a subset of their names); one row each."""
    data = load_reviews(data_path)
    config = AutoConfig.from_pretrained(model_path, local_files_only=True)
    num_layers = getattr(config, "num_hidden_layers", None) or config.n_layers  # BERT's name, DistilBERT's
    rows = []
    for name, prepare in comparison_setups(config.model_type, num_layers).items():
        if only is not None and name not in only:
            continue
        torch.manual_seed(seed)
        model, tokenizer = initialize_base_model(model_path, num_labels=len({y for _, y in data["train"]}))
        prepare(model)
        trainable = count_trainable_parameters(model)
        total = sum(param.numel() for param in model.parameters())
        started = time.perf_counter()
        history = train(model, make_batches(tokenizer, data["train"], batch_size),
                        make_batches(tokenizer, data["test"], batch_size), epochs=epochs, lr=lr,
                        device=device, seed=seed, progress=False)
        steps = len(history.step_losses) // epochs
        rows.append({"set-up": name, "trainable": trainable, "share": trainable / total,
                     "final loss": sum(history.step_losses[-steps:]) / steps,
                     "eval accuracy": history.eval_accuracy[-1], "seconds": time.perf_counter() - started,
                     "losses": history.step_losses})
    return rows


def write_comparison(rows: list[dict], folder: str) -> list[str]:
    """The table as CSV and Markdown, and a PNG when matplotlib is installed; returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    columns = ["set-up", "trainable", "share", "final loss", "eval accuracy", "seconds"]
    cells = [[row["set-up"], f"{row['trainable']:,}", f"{100 * row['share']:.1f}%", f"{row['final loss']:.4f}",
              f"{row['eval accuracy']:.3f}", f"{row['seconds']:.1f}"] for row in rows]
    written = [os.path.join(folder, "comparison.csv"), os.path.join(folder, "comparison.md")]
    with open(written[0], "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[row[c] for c in columns] for row in rows])
    with open(written[1], "w") as f:
        f.write("| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns) + "\n")
        f.writelines("| " + " | ".join(line) + " |\n" for line in cells)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    figure, (curves, scatter) = plt.subplots(1, 2, figsize=(12, 4.5))
    for row in rows:
        curves.plot(row["losses"], label=row["set-up"], linewidth=1)
        scatter.scatter(row["trainable"], row["eval accuracy"])
        scatter.annotate(row["set-up"], (row["trainable"], row["eval accuracy"]), fontsize=7)
    curves.set(xlabel="step", ylabel="training loss", title="loss per step")
    curves.legend(fontsize=7)
    scatter.set(xscale="log", xlabel="trainable parameters", ylabel="eval accuracy", title="accuracy vs parameters")
    figure.tight_layout()
    written.append(os.path.join(folder, "comparison.png"))
    figure.savefig(written[-1], dpi=120)
    plt.close(figure)
    return written


# %% [markdown]
# ## Provided: sharing the adapter with peft
#
# `export_peft_adapter(model, folder)` writes the LoRA weights and the trained head in
# peft's adapter format (`adapter_config.json`, `adapter_model.safetensors`), so that
# `peft.PeftModel.from_pretrained(base_model, folder)` rebuilds the same model. peft
# stores `A.T` as `lora_A.weight` and `B.T` as `lora_B.weight` (they are `nn.Linear`
# layers there) and computes the same `scaling = lora_alpha / r`.

# %%
def export_peft_adapter(model: nn.Module, folder: str) -> None:
    """Write the model's LoRA layers and head as a peft LoRA adapter in ``folder``."""
    import json

    from safetensors.torch import save_file

    wrapped = {name: module for name, module in model.named_modules() if isinstance(module, LinearLoRA)}
    settings = {(module.lora.rank, module.lora.alpha) for module in wrapped.values()}
    if len(settings) != 1:
        raise ValueError(f"model: expected LoRA layers of one rank and alpha, found {sorted(settings) or 'none'}")
    (rank, alpha), = settings
    heads = [name for name in HEAD_MODULES if hasattr(model, name)]
    tensors = {}
    for name, module in wrapped.items():
        tensors[f"base_model.model.{name}.lora_A.weight"] = module.lora.A.detach().T.contiguous().cpu()
        tensors[f"base_model.model.{name}.lora_B.weight"] = module.lora.B.detach().T.contiguous().cpu()
    for head in heads:
        for key, value in getattr(model, head).state_dict().items():
            tensors[f"base_model.model.{head}.{key}"] = value.detach().contiguous().cpu()
    config = {
        "peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": sorted(wrapped),
        "lora_dropout": 0.0, "bias": "none", "modules_to_save": heads, "task_type": None,
        "fan_in_fan_out": False, "inference_mode": True,
        "base_model_name_or_path": getattr(model.config, "_name_or_path", None),
    }
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file(tensors, os.path.join(folder, "adapter_model.safetensors"), metadata={"format": "pt"})


# %% [markdown]
# ## Provided: the command line
#
# `python lora_bert.py --model tiny_models/bert-tiny` fine-tunes with LoRA and prints the
# trainable-parameter count, then the training loss and eval accuracy of every epoch.

# %%
# The assignment's public figures: (model type, set-up, trainable parameters), 2 labels, base size.
PUBLIC_FIGURES = [
    ("distilbert", "everything trainable", 66_955_010),
    ("distilbert", "head only", 592_130),
    ("distilbert", "head + LoRA r=8", 739_586),
    ("bert", "head + LoRA r=8", 296_450),
]


def sanity_check() -> bool:
    """Print the public figures next to the counts of your functions, on ``AutoConfig`` defaults built on
    the meta device (no weights needed); True when they all agree."""
    agree = True
    for model_type, setup, expected in PUBLIC_FIGURES:
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, num_labels=2))
        if setup != "everything trainable":  # the body frozen, the head trainable
            model.requires_grad_(False)
            for head in HEAD_MODULES:
                getattr(model, head, nn.Identity()).requires_grad_(True)
        if "LoRA" in setup:
            add_lora(model, rank=8, alpha=16)
        found = count_trainable_parameters(model)
        agree &= found == expected
        print(f"{model_type:10s} {setup:22s} expected {expected:>11,}  found {found:>11,}  "
              f"{'ok' if found == expected else 'DIFFERENT'}")
    return agree


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but no CUDA device is available")
    return torch.device(name)


def suggestion(path: str) -> str:
    """A relative ``path`` (the default model or data) found beside this file or one folder up, as a hint."""
    here = os.path.dirname(os.path.abspath(__file__))
    for base in (here, os.path.dirname(here)):
        if not os.path.isabs(path) and os.path.exists(os.path.join(base, path)):
            return f"; try {os.path.relpath(os.path.join(base, path))}"
    return ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune a local BERT or DistilBERT checkpoint with LoRA.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="tiny_models/bert-tiny", help="folder of a local checkpoint")
    parser.add_argument("--data", default="data/reviews.csv", help="CSV file with text, label, split")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--alpha", type=float, default=16, help="LoRA alpha (scaling = alpha / rank)")
    parser.add_argument("--targets", nargs="+", default=None, help="target modules; None: the architecture's defaults")
    parser.add_argument("--lr", type=float, default=1e-2, help="AdamW learning rate")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where to train; auto picks CUDA when present")
    parser.add_argument("--seed", type=int, default=0, help="seeds LoRA's initialisation, dropout and shuffling")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads; the figures are the same on every run for a given count, not across counts")
    parser.add_argument("--sanity", action="store_true",
                        help="only compare your parameter counts with the assignment's four public figures")
    parser.add_argument("command", nargs="?", choices=("train", "compare"), default="train",
                        help="train: fine-tune with LoRA; compare: several fine-tuning methods")
    parser.add_argument("--out", default="comparison", help="compare: where the table and plot go")
    args = parser.parse_args(argv)
    if args.sanity:
        raise SystemExit(0 if sanity_check() else 1)
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        parser.error(f"--model {args.model}: not a checkpoint folder (no config.json){suggestion(args.model)}")
    if not os.path.isfile(args.data):
        parser.error(f"--data {args.data}: no such file{suggestion(args.data)}")
    # Parallel CPU kernels split their sums by the thread count, and at this learning rate the
    # rounding differences grow into different figures: a fixed count makes runs repeatable.
    torch.set_num_threads(args.threads)

    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()  # no load report for the head we create on purpose
    hf_logging.disable_progress_bar()

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    if args.command == "compare":
        rows = compare(args.model, args.data, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                       seed=args.seed, device=device)
        written = write_comparison(rows, args.out)
        with open(written[1]) as table:
            print(table.read())
        print("wrote " + ", ".join(written))
        return
    data = load_reviews(args.data)
    num_labels = len({label for _, label in data["train"]})
    model, tokenizer = initialize_base_model(args.model, num_labels=num_labels)
    add_lora(model, rank=args.rank, alpha=args.alpha, target_modules=args.targets)
    trainable = count_trainable_parameters(model)
    total = sum(param.numel() for param in model.parameters())
    print(f"model {args.model}: {trainable:,} trainable parameters of {total:,} ({100 * trainable / total:.1f}%)")

    train_batches = make_batches(tokenizer, data["train"], args.batch_size)
    eval_batches = make_batches(tokenizer, data["test"], args.batch_size)
    model.to(device)
    print(f"epoch 0: eval accuracy {evaluate(model, eval_batches, device):.3f} (before training)")
    started = time.perf_counter()
    train(model, train_batches, eval_batches, epochs=args.epochs, lr=args.lr, device=device, seed=args.seed)
    print(f"trained in {time.perf_counter() - started:.1f} s on {device}")

    accuracy = evaluate(model, eval_batches, device)
    merge_lora(model)
    print(f"merged LoRA into the weights: eval accuracy {evaluate(model, eval_batches, device):.3f} "
          f"(unmerged {accuracy:.3f}), {sum(p.numel() for p in model.parameters()):,} parameters")



# %% [markdown]
# ## Check your work
#
# `check()` runs the public tests on what is defined right now and shows your points,
# part by part, from the rubric the graders use; `check("LoRALayer")` checks one part.
# In a notebook it tests what the kernel holds: no need to save or leave the notebook.
# It needs the bundle's `tests/`, `tiny_models/` and `data/` beside this file. On Colab,
# upload the bundle as a zip and unpack it in a cell first:
#
#     !unzip -q lora-assignment.zip
#     %cd lora-assignment

# %%
def check(part=None):
    """Run the public tests on the names defined now and show the points (``part``: e.g. "LoRALayer")."""
    from tests.notebook import check as run_public_tests

    run_public_tests(globals(), part)


# %%
if __name__ == "__main__":
    main()
