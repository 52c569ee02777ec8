"""The bundled movie reviews (``data/reviews.csv``), read and tokenized alike on both sides: a suite's subject
builtin hands the examples to the submission (its Trainer, its training loop), and its judge recomputes on the
very same ones with its own model."""

import csv
from functools import cache
from pathlib import Path

import torch

LENGTH = 24  # every example padded or cut to it: a DataLoader's default collator stacks them as they are


def read(dataset: Path, split: str, count: int) -> tuple[list[str], list[int]]:
    """The first ``count`` reviews of ``split``: their texts and labels."""
    with open(dataset, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == split][:count]
    return [row["text"] for row in rows], [int(row["label"]) for row in rows]


@cache
def tokenizer(folder: str):
    """A tiny model's tokenizer, read once per process."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def examples(model_folder: Path, dataset: Path, split: str, count: int) -> list[dict[str, torch.Tensor]]:
    """The first ``count`` reviews of ``split`` tokenized by the tiny model in ``model_folder``: each a dict of
    ``input_ids``, ``attention_mask`` and ``labels``."""
    texts, labels = read(dataset, split, count)
    encoded = tokenizer(str(model_folder))(texts, padding="max_length", truncation=True, max_length=LENGTH,
                                           return_tensors="pt")
    return [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
             "labels": torch.tensor(label)} for i, label in enumerate(labels)]
