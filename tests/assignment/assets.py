"""Where the suite finds the tiny models and the data, and what the contract calls the head."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"
DATASET = ROOT / "data" / "reviews.csv"
MODEL_NAMES = ("bert-tiny", "distilbert-tiny")
HEAD_MODULES = ("classifier", "pre_classifier")
DEFAULT_TARGETS = {"bert-tiny": ("query", "value"), "distilbert-tiny": ("q_lin", "v_lin"),
                   "bert": ("query", "value"), "distilbert": ("q_lin", "v_lin")}  # tiny models and model types
CONTRACT = "ASSIGNMENT.md"


def is_head(qualified_name: str) -> bool:
    """Whether a parameter or module name belongs to the freshly initialised classification head."""
    return qualified_name.split(".")[0] in HEAD_MODULES
