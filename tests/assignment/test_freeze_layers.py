"""freeze_layers: the embeddings and all but the top k transformer layers frozen, the head trainable."""

import pytest

from .assets import MODEL_NAMES, is_head
from .checks import expect, names

LAYERS = {"bert-tiny": ("bert.encoder.layer", 4), "distilbert-tiny": ("distilbert.transformer.layer", 3)}


def scramble(model):
    """A mixed starting point: freeze_layers must set every flag, not only some."""
    for index, param in enumerate(model.parameters()):
        param.requires_grad = index % 2 == 0
    return model


def layer_index(param_name: str, prefix: str):
    if not param_name.startswith(prefix + "."):
        return None
    return int(param_name[len(prefix) + 1:].split(".")[0])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_zero_trains_the_head_alone(lora, base_model, name):
    model = lora.freeze_layers(scramble(base_model(name)), 0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    head = {n for n, _ in model.named_parameters() if is_head(n)}
    expect(trainable == head, f"freeze_layers(model, 0) on {name} trains the classification head alone",
           names(head), names(trainable))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_all_layers_train_everything(lora, base_model, name):
    model = lora.freeze_layers(scramble(base_model(name)), LAYERS[name][1])
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    expect(not frozen, f"freeze_layers(model, {LAYERS[name][1]}) on {name} (the number of layers) trains everything",
           "no frozen parameter", f"frozen: {names(frozen)}")


@pytest.mark.parametrize("name, k", [("bert-tiny", 1), ("bert-tiny", 3), ("distilbert-tiny", 2)])
def test_some_layers(lora, base_model, name, k):
    prefix, num_layers = LAYERS[name]
    model = lora.freeze_layers(scramble(base_model(name)), k)
    rule = f"freeze_layers(model, {k}) on {name} ({num_layers} layers)"
    params = dict(model.named_parameters())
    embeddings = [n for n, p in params.items() if ".embeddings." in n and p.requires_grad]
    expect(not embeddings, f"{rule} freezes the embeddings", "embeddings frozen", f"trainable: {names(embeddings)}")
    for n, p in params.items():
        index = layer_index(n, prefix)
        if index is not None:
            should_train = index >= num_layers - k
            expect(p.requires_grad == should_train,
                   f"{rule} trains layers {num_layers - k} to {num_layers - 1} and freezes those below",
                   f"{n} {'trainable' if should_train else 'frozen'}",
                   "trainable" if p.requires_grad else "frozen")
    frozen_head = [n for n, p in params.items() if is_head(n) and not p.requires_grad]
    expect(not frozen_head, f"{rule} keeps the classification head trainable", "head trainable",
           f"frozen: {names(frozen_head)}")
