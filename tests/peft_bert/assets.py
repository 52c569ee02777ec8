"""Where the peft-bert suite finds its model and data, and its pack's conventions (``conventions.py``: from the
pack's spec)."""

from pathlib import Path

from ..judging.conventions import for_suite

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"
DATASET = ROOT / "data" / "reviews.csv"
CONVENTIONS = for_suite(Path(__file__).resolve().parent)
MODEL = CONVENTIONS.models[0]  # the tiny BERT stands for TinyBERT (prajjwal1/bert-tiny)

