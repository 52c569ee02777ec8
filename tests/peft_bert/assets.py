"""Where the peft-bert suite finds its model and data, and its pack's conventions (``conventions.py``: from the
pack's spec)."""

import csv
from pathlib import Path

from ..judging.conventions import for_suite

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"
DATASET = ROOT / "data" / "reviews.csv"
CONVENTIONS = for_suite(Path(__file__).resolve().parent)
MODEL = CONVENTIONS.models[0]  # the tiny BERT stands for TinyBERT (prajjwal1/bert-tiny)


def reviews(dataset: Path, split: str, count: int) -> tuple[list[str], list[int]]:
    """The first ``count`` reviews of ``split``: their texts and labels."""
    with open(dataset, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == split][:count]
    return [row["text"] for row in rows], [int(row["label"]) for row in rows]
