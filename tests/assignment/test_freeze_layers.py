"""freeze_layers: the embeddings and all but the top k transformer layers frozen, the head trainable."""

import pytest

from ..judging.checks import expect, names
from .assets import MODEL_NAMES, is_head

LAYERS = {"bert-tiny": ("bert.encoder.layer", 4), "distilbert-tiny": ("distilbert.transformer.layer", 3)}


def scramble(lora, model):
    """A mixed starting point: freeze_layers must set every flag, not only some."""
    lora.builtin("requires_grad", model, {p["name"]: index % 2 == 0 for index, p in enumerate(model.parameters())})
    return model


def layer_index(param_name: str, prefix: str):
    if not param_name.startswith(prefix + "."):
        return None
    return int(param_name[len(prefix) + 1:].split(".")[0])


def flags(model) -> dict[str, bool]:
    return {p["name"]: p["requires_grad"] for p in model.parameters()}


def freeze(lora, model, k: int):
    """freeze_layers(model, k), which works in place and returns the model."""
    returned = lora.freeze_layers(model, k)
    expect(returned is model, "freeze_layers works in place and returns the model it was given",
           "the same model object", getattr(returned, "type", type(returned).__name__))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_zero_trains_the_head_alone(lora, base_model, name):
    model = scramble(lora, base_model(name))
    freeze(lora, model, 0)
    found = flags(model)
    trainable = {n for n, grad in found.items() if grad}
    head = {n for n in found if is_head(n)}
    expect(trainable == head, f"freeze_layers(model, 0) on {name} trains the classification head alone",
           names(head), names(trainable))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_all_layers_train_everything(lora, base_model, name):
    model = scramble(lora, base_model(name))
    freeze(lora, model, LAYERS[name][1])
    frozen = [n for n, grad in flags(model).items() if not grad]
    expect(not frozen, f"freeze_layers(model, {LAYERS[name][1]}) on {name} (the number of layers) trains everything",
           "no frozen parameter", f"frozen: {names(frozen)}")


@pytest.mark.parametrize("name, k", [("bert-tiny", 1), ("bert-tiny", 3), ("distilbert-tiny", 2)])
def test_some_layers(lora, base_model, name, k):
    prefix, num_layers = LAYERS[name]
    model = scramble(lora, base_model(name))
    freeze(lora, model, k)
    rule = f"freeze_layers(model, {k}) on {name} ({num_layers} layers)"
    params = flags(model)
    embeddings = [n for n, grad in params.items() if ".embeddings." in n and grad]
    expect(not embeddings, f"{rule} freezes the embeddings", "embeddings frozen", f"trainable: {names(embeddings)}")
    for n, grad in params.items():
        index = layer_index(n, prefix)
        if index is not None:
            should_train = index >= num_layers - k
            expect(grad == should_train,
                   f"{rule} trains layers {num_layers - k} to {num_layers - 1} and freezes those below",
                   f"{n} {'trainable' if should_train else 'frozen'}", "trainable" if grad else "frozen")
    frozen_head = [n for n, grad in params.items() if is_head(n) and not grad]
    expect(not frozen_head, f"{rule} keeps the classification head trainable", "head trainable",
           f"frozen: {names(frozen_head)}")


@pytest.mark.parametrize("k", [2, 10])
def test_finds_the_layers_by_position_in_a_twelve_layer_model(lora, k):
    """On twelve layers, a layer found by its name as a substring (``layer.1`` is in ``layer.10``) takes others
    along: freezing layers 0 to 9 that way freezes 10 and 11 too."""
    model = scramble(lora, lora.builtin("from_config", "bert", vocab_size=40, hidden_size=8, num_hidden_layers=12,
                                        num_attention_heads=2, intermediate_size=16, max_position_embeddings=40))
    freeze(lora, model, k)
    found = flags(model)
    indices = {n: layer_index(n, "bert.encoder.layer") for n in found}
    wrong = sorted({indices[n] for n, grad in found.items()
                    if indices[n] is not None and grad != (indices[n] >= 12 - k)})
    expect(not wrong, f"freeze_layers(model, {k}) on a 12-layer BERT trains layers {12 - k} to 11 and freezes "
           "those below, each layer found by its position", "layers set as the rule says",
           f"layers set otherwise: {', '.join(map(str, wrong))}")
