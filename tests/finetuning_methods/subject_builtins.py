"""What the finetuning-methods suite's judge needs made on the subject's side: a fresh tiny model (everything
trainable, as a model is loaded), DistilBERT base on the meta device to count on, the tokenized reviews and a
folder for the Trainer's output. Each builtin takes the subject's ``Server`` first (``judging/subject.py``)."""

import tempfile

import torch

from ..judging import pristine, reviews
from ..judging.subject import Server


def model(server: Server, name: str, dtype=None, device=None):
    """A fresh tiny classifier with two labels, the same head every time, every parameter trainable, eval mode."""
    made = pristine.fresh(server.models, name, 2).to(device or server.device).eval()
    return made.to(dtype) if dtype is not None else made


def distilbert_base(server: Server):
    """DistilBERT base (distilbert-base-uncased's configuration) with two labels, on the meta device: shapes only."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(AutoConfig.for_model("distilbert", num_labels=2))


def reviews_of(server: Server, name: str, split: str, count: int):
    """The first ``count`` reviews of ``split``, tokenized by the tiny model ``name``'s tokenizer."""
    return reviews.examples(server.models / name, server.models.parent / "data" / "reviews.csv", split, count)


def output_dir(server: Server) -> str:
    """A new empty folder in the subject's home, for the Trainer's output."""
    return tempfile.mkdtemp(prefix="trainer-")


BUILTINS = {function.__name__: function for function in (model, distilbert_base, reviews_of, output_dir)}
