"""What the peft-bert suite's judge needs made on the subject's side: the tiny BERT (TinyBERT's stand-in) and its
tokenizer, the suite's own batches, optimiser and LoraConfig (so that each part is judged with the others' work done
by the suite), a small BERT of the handout's shape to count on, and plain data read off peft's objects. Each builtin
takes the subject's ``Server`` first (``judging/subject.py``)."""

import torch

from ..judging import pristine, reviews
from ..judging.subject import Server
from . import encoding
from .assets import MODEL


def tokenizer(server: Server):
    return reviews.tokenizer(str(server.models / MODEL))


def model(server: Server, num_labels: int = 2, dropout: bool = True, device=None):
    """A fresh tiny BERT classifier, the same weights every time, every parameter trainable, eval mode."""
    made = pristine.fresh(server.models, MODEL, num_labels).to(device or server.device).eval()
    return made if dropout else encoding.without_dropout(made)


def small_bert(server: Server, vocab_size: int, num_labels: int):
    """The handout's shape, built by the suite (on the meta device: shapes only)."""
    from transformers import BertConfig, BertForSequenceClassification

    with torch.device("meta"):
        return BertForSequenceClassification(BertConfig(
            vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=512, num_labels=num_labels))


def loader(server: Server, split: str, count: int, batch_size: int):
    return encoding.loader(server.models / MODEL, server.models.parent / "data" / "reviews.csv", split, count,
                           batch_size)


def adamw(server: Server, model, lr: float):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)


def lora_config(server: Server, rank: int, alpha: float, dropout: float):
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=["query", "value"])


def lora_fields(server: Server, config) -> dict:
    """What the judge reads of a LoraConfig, as plain data."""
    targets = getattr(config, "target_modules", None)
    return {"type": type(config).__name__, "r": getattr(config, "r", None),
            "lora_alpha": getattr(config, "lora_alpha", None), "lora_dropout": getattr(config, "lora_dropout", None),
            "target_modules": sorted(targets) if isinstance(targets, (list, set, tuple)) else str(targets),
            "task_type": _value(getattr(config, "task_type", None)),
            "peft_type": _value(getattr(config, "peft_type", None))}


def _value(member) -> str:
    """``"SEQ_CLS"`` for ``TaskType.SEQ_CLS`` or ``"SEQ_CLS"``: an enum's value, a string as it is."""
    return str(getattr(member, "value", member))


def config_fields(server: Server, model) -> dict:
    """The class of ``model`` and its configuration, as plain data."""
    config = getattr(model, "config", None)
    fields = config.to_dict() if hasattr(config, "to_dict") else {}
    keep = ("model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size")
    return {"class": type(model).__name__, "num_labels": getattr(config, "num_labels", None),
            **{key: fields.get(key) for key in keep}}


def batches(server: Server, dataset, batch_size: int) -> list:
    """``dataset`` through a DataLoader, in order: what a training loop would get."""
    return list(torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False))


def is_dataset(server: Server, dataset) -> bool:
    return isinstance(dataset, torch.utils.data.Dataset)


def is_peft_model(server: Server, model) -> bool:
    from peft import PeftModelForSequenceClassification

    return isinstance(model, PeftModelForSequenceClassification)


BUILTINS = {function.__name__: function for function in (
    tokenizer, model, small_bert, loader, adamw, lora_config, lora_fields, config_fields, batches, is_dataset,
    is_peft_model)}
