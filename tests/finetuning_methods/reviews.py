"""The movie reviews, tokenized as the Trainer takes them: the same examples on both sides (the subject's builtin
hands them to the submission's Trainer, the judge recomputes the accuracy on them with its own model)."""

import csv
from functools import cache
from pathlib import Path

import torch

LENGTH = 24  # every example padded or cut to it: the Trainer's default collator stacks them as they are


@cache
def _tokenizer(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def examples(tokenizer_folder: Path, dataset: Path, split: str, count: int) -> list[dict[str, torch.Tensor]]:
    """The first ``count`` reviews of ``split``: each a dict of ``input_ids``, ``attention_mask`` and ``labels``."""
    with open(dataset, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == split][:count]
    encoded = _tokenizer(str(tokenizer_folder))([row["text"] for row in rows], padding="max_length", truncation=True,
                                                max_length=LENGTH, return_tensors="pt")
    return [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
             "labels": torch.tensor(int(row["label"]))} for i, row in enumerate(rows)]
