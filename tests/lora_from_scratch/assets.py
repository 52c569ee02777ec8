"""Where the lora-from-scratch suite finds its data, and its pack's conventions (``conventions.py``: from the
pack's spec)."""

from pathlib import Path

from ..judging.conventions import for_suite

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"  # none of them is this suite's: its GPT is built from code (gpt.py)
DATASET = ROOT / "data" / "sms_spam.csv"
CONVENTIONS = for_suite(Path(__file__).resolve().parent)
