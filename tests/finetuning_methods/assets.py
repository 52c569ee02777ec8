"""Where the finetuning-methods suite finds its models and data, its pack's conventions (``conventions.py``: from
the pack's spec), and the judge's own reading of what a model's final layers and query and value layers are."""

from pathlib import Path

from torch import nn

from ..judging.conventions import for_suite

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tiny_models"
DATASET = ROOT / "data" / "reviews.csv"
CONVENTIONS = for_suite(Path(__file__).resolve().parent)
MODEL_NAMES = CONVENTIONS.models
QUERY_AND_VALUE = ("q_lin", "v_lin", "query", "value")  # DistilBERT's, then BERT's


def final_layers(model: nn.Module) -> list[str]:
    """The names of the parameters outside ``model.base_model``: the classification head on top."""
    body = {id(param) for param in model.base_model.parameters()}
    return sorted(name for name, param in model.named_parameters() if id(param) not in body)


def query_and_value(model: nn.Module) -> list[str]:
    """The qualified names of the query and value ``nn.Linear`` layers of ``model``."""
    return sorted(name for name, module in model.named_modules()
                  if isinstance(module, nn.Linear) and name.rpartition(".")[2] in QUERY_AND_VALUE)
