"""build_small_bert: a BertForSequenceClassification of TinyBERT's shape, from a BertConfig, randomly initialised,
everything trainable."""

import math

from ..judging.checks import expect, names
from .assets import CONVENTIONS

EVERYTHING = "small bert, 30522 words, 5 labels, everything trainable"  # [figures]
SHAPE = {"class": "BertForSequenceClassification", "model_type": "bert", "vocab_size": 95, "num_labels": 3,
         "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512}


def test_the_configuration(lora):
    found = lora.builtin("config_fields", lora.build_small_bert(95, 3))
    expect(found == SHAPE, "build_small_bert(vocab_size=95, num_labels=3): a BertForSequenceClassification with "
           "that vocabulary and those labels, 2 layers, hidden size 128, 2 heads, intermediate size 512", SHAPE, found)


def test_randomly_initialised_and_everything_trainable(lora):
    first, second = lora.build_small_bert(95, 3), lora.build_small_bert(95, 3)
    frozen = [p["name"] for p in first.parameters() if not p["requires_grad"]]
    expect(not frozen, "build_small_bert's model trains every parameter", "none frozen", names(frozen))
    name = "bert.encoder.layer.0.attention.self.query.weight"
    weights = first.tensors([name]), second.tensors([name])
    expect(all(name in found for found in weights) and not bool((weights[0][name] == weights[1][name]).all()),
           "build_small_bert builds from a BertConfig, randomly initialised: two models differ", "different weights",
           "the same weights")


def test_the_handouts_figure(lora):
    model = lora.build_small_bert(30522, 5)
    found = sum(math.prod(p["shape"]) for p in model.parameters() if p["requires_grad"])
    expected = CONVENTIONS.figures[EVERYTHING]
    expect(found == expected, "build_small_bert(30522, 5): trainable parameters", f"{expected:,}", f"{found:,}")
