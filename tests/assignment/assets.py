"""Where the suite finds the tiny models and the data, and what the assignment's conventions call the head, the
models and their default targets (``conventions.py``: from the pack's spec)."""

from pathlib import Path

from ..judging.conventions import for_suite, model_type

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"
DATASET = ROOT / "data" / "reviews.csv"
CONVENTIONS = for_suite(Path(__file__).resolve().parent)
MODEL_NAMES = CONVENTIONS.models
HEAD_MODULES = CONVENTIONS.head
# by model type, and by tiny model
DEFAULT_TARGETS = {**CONVENTIONS.default_targets,
                   **{name: CONVENTIONS.default_targets[model_type(TINY_MODELS, name)] for name in MODEL_NAMES}}


def is_head(qualified_name: str) -> bool:
    """Whether a parameter or module name belongs to the freshly initialised classification head."""
    return qualified_name.split(".")[0] in HEAD_MODULES
