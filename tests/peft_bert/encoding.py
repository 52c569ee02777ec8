"""The reviews as the training loop takes them, encoded by the suite itself (never by the submission's data set, so
that the loop is judged on its own): the same batches on both sides."""

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .assets import reviews

LENGTH = 24


def examples(tokenizer, dataset: Path, split: str, count: int) -> list[dict[str, torch.Tensor]]:
    texts, labels = reviews(dataset, split, count)
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=LENGTH, return_tensors="pt")
    return [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
             "labels": torch.tensor(label)} for i, label in enumerate(labels)]


def loader(tokenizer, dataset: Path, split: str, count: int, batch_size: int) -> DataLoader:
    """The first ``count`` reviews of ``split`` in batches, in order."""
    return DataLoader(examples(tokenizer, dataset, split, count), batch_size=batch_size, shuffle=False)


def without_dropout(model):
    """``model`` with every dropout's probability 0: a training step computes the same on both sides."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model
