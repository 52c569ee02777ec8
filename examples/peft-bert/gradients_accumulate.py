# Example submission: the gradients never zeroed.
# %% [markdown]
# # BERT from scratch, then TinyBERT with LoRA through peft
#
# You classify consumer complaints twice. First with a small BERT built from a
# `BertConfig` and trained from scratch; then with a pretrained TinyBERT fine-tuned with
# LoRA (Hu et al. 2021, arXiv 2106.09685) through Hugging Face's `peft`: a
# `LoraConfig` and `get_peft_model`, trained with a plain PyTorch loop. The data set class,
# the training loop and the evaluation serve both models.
#
# Write the parts below (each starts as a stub that raises `NotImplementedError`);
# ASSIGNMENT.md states every rule the tests check. Check your work with `pytest` in the
# assignment's folder, or `check()` in the notebook. Importing this file must stay cheap
# and silent: nothing loads or trains at import time.

# %%
import torch
from peft import LoraConfig, TaskType, get_peft_model
from torch import nn
from torch.utils.data import Dataset
from transformers import BertConfig, BertForSequenceClassification

# %% [markdown]
# ## Part 1. The data set
#
# `ComplaintDataset(texts, labels, tokenizer, max_len=512)` is a `torch.utils.data.Dataset`
# of `len(texts)` examples. Example `i` is a dictionary: `input_ids` and `attention_mask`,
# the tokenizer's encoding of `texts[i]` padded or cut to exactly `max_len` tokens (1-D
# `torch.long` tensors), and `labels`, `labels[i]` as a 0-D `torch.long` tensor.

# %%
class ComplaintDataset(Dataset):
    """Complaints and their encoded labels, each tokenized to ``max_len`` tokens."""

    def __init__(self, texts, labels, tokenizer, max_len: int = 512):
        # BEGIN SOLUTION
        self.texts, self.labels, self.tokenizer, self.max_len = list(texts), list(labels), tokenizer, max_len
        # END SOLUTION

    def __len__(self) -> int:
        # BEGIN SOLUTION
        return len(self.texts)
        # END SOLUTION

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        # BEGIN SOLUTION
        encoded = self.tokenizer(self.texts[idx], padding="max_length", truncation=True, max_length=self.max_len,
                                 return_tensors="pt")
        return {"input_ids": encoded["input_ids"][0], "attention_mask": encoded["attention_mask"][0],
                "labels": torch.tensor(int(self.labels[idx]), dtype=torch.long)}
        # END SOLUTION


# %% [markdown]
# ## Part 2. A small BERT, from scratch
#
# `build_small_bert(vocab_size, num_labels)` returns a `BertForSequenceClassification`
# made from a `BertConfig` (no pretrained weights) with that vocabulary and that many
# labels, 2 layers, a hidden size of 128, 2 attention heads and an intermediate size of
# 512 (TinyBERT's shape), every parameter trainable. With BERT's vocabulary (30,522) and 5
# labels it has 4,386,565 parameters.

# %%
def build_small_bert(vocab_size: int, num_labels: int) -> BertForSequenceClassification:
    """A BERT classifier of TinyBERT's shape, randomly initialised."""
    # BEGIN SOLUTION
    config = BertConfig(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=512, num_labels=num_labels)
    return BertForSequenceClassification(config)
    # END SOLUTION


# %% [markdown]
# ## Part 3. LoRA with peft
#
# `make_lora_config(rank, alpha, dropout)` returns a `peft.LoraConfig` for sequence
# classification (`task_type=TaskType.SEQ_CLS`, so that the new classifier trains too) with
# `r=rank`, `lora_alpha=alpha`, `lora_dropout=dropout` and LoRA on the attention's `query`
# and `value` layers only.
#
# `apply_lora(model, config)` returns the model wrapped by `get_peft_model`: its LoRA
# matrices and its classifier trainable, everything else frozen. On TinyBERT's shape with 5
# labels at rank 8 that is 8,837 trainable parameters.

# %%
def make_lora_config(rank: int, alpha: float, dropout: float) -> LoraConfig:
    """LoRA on query and value, for sequence classification."""
    # BEGIN SOLUTION
    return LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=["query", "value"])
    # END SOLUTION


def apply_lora(model: nn.Module, config: LoraConfig) -> nn.Module:
    """The model with LoRA, as peft makes it."""
    # BEGIN SOLUTION
    return get_peft_model(model, config)
    # END SOLUTION


# %% [markdown]
# ## Part 4. Training and evaluating
#
# `train_epoch(model, loader, optimizer, device)` trains for one pass over `loader`: the
# model in training mode, and for each batch (a dictionary like the data set's examples,
# stacked) moved to `device`: the gradients zeroed, the model's loss (`outputs.loss`, the
# model given `input_ids`, `attention_mask` and `labels`) computed and back-propagated, one
# optimizer step. It returns the mean of the batches' losses, as a float.
#
# `evaluate(model, loader, device)` puts the model in evaluation mode and, without
# gradients, returns `{"loss": ..., "accuracy": ...}`: the mean of the batches' losses, and
# the fraction of examples whose highest logit is their label, both floats.

# %%
def train_epoch(model: nn.Module, loader, optimizer, device) -> float:
    """One epoch of training; the mean loss of its batches."""
    # BEGIN SOLUTION
    model.train()
    losses = []
    for batch in loader:
        batch = {key: value.to(device) for key, value in batch.items()}
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
    # END SOLUTION


def evaluate(model: nn.Module, loader, device) -> dict[str, float]:
    """The mean loss and the accuracy of ``model`` on ``loader``, without training it."""
    # BEGIN SOLUTION
    model.eval()
    losses, correct, seen = [], 0, 0
    with torch.no_grad():
        for batch in loader:
            batch = {key: value.to(device) for key, value in batch.items()}
            outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            labels=batch["labels"])
            losses.append(outputs.loss.item())
            correct += int((outputs.logits.argmax(dim=-1) == batch["labels"]).sum())
            seen += len(batch["labels"])
    return {"loss": sum(losses) / len(losses), "accuracy": correct / seen}
    # END SOLUTION
