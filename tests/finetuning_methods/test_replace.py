"""The interlude: extract_qv_layers finds every query and value nn.Linear by qualified name (the very layers);
replace_layers puts modules at qualified names, at any depth, and changes nothing else."""

import pytest

from ..judging.checks import expect, names
from .assets import MODEL_NAMES, query_and_value

# a query layer deep in the body, a layer of the feed-forward block, and a top-level layer of the head
SOME_LAYERS = {"distilbert-tiny": ("distilbert.transformer.layer.1.attention.q_lin",
                                   "distilbert.transformer.layer.2.ffn.lin1", "classifier"),
               "bert-tiny": ("bert.encoder.layer.0.attention.self.value", "bert.encoder.layer.1.output.dense",
                             "classifier")}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_extract_finds_exactly_the_query_and_value_layers(lora, base_model, own_model, name):
    model = base_model(name)
    found = lora.extract_qv_layers(model)
    expected = query_and_value(own_model(name))
    keys = sorted(found) if isinstance(found, dict) else found
    expect(keys == expected, f"extract_qv_layers ({name}) gives every query and value nn.Linear by its qualified "
           "name, and nothing else", names(expected), names(keys) if isinstance(keys, list) else keys)
    others = [key for key in expected if found[key] is not model.get(key)]
    expect(not others, "extract_qv_layers maps each name to the very layer of the model (not a copy)",
           "the model's own layers", f"other objects for: {names(others)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_replace_puts_each_module_at_its_name(lora, base_model, name):
    model = base_model(name)
    before = {m["name"]: m["type"] for m in model.modules()}
    untouched = {key: value for key, value in model.tensors().items()
                 if not any(key.startswith(layer + ".") for layer in SOME_LAYERS[name])}
    new = {}
    for layer in SOME_LAYERS[name]:
        old = model.get(layer)
        new[layer] = lora.builtin("linear", old.get("in_features"), old.get("out_features"), keep=True)
    lora.replace_layers(model, new)
    placed = [layer for layer in SOME_LAYERS[name] if model.get(layer, None) is not new[layer]]
    expect(not placed, f"replace_layers ({name}) puts each module at its qualified name, at any depth",
           names(SOME_LAYERS[name]), f"not there: {names(placed)}")
    after = {m["name"]: m["type"] for m in model.modules()}
    tensors = model.tensors()
    changed = sorted({*(key for key in before.keys() ^ after.keys()),
                      *(key for key in before.keys() & after.keys() if before[key] != after[key]),
                      *(key for key, value in untouched.items() if key not in tensors
                        or not bool((tensors[key] == value).all()))})
    expect(not changed, "replace_layers changes nothing but the named layers", "no other module or parameter changed",
           names(changed))


def test_replace_inside_a_sequential(lora):
    inner = lora.builtin("sequential", lora.builtin("linear", 4, 4, keep=True), keep=True)
    model = lora.builtin("sequential", lora.builtin("linear", 4, 4, keep=True), inner, keep=True)
    new = lora.builtin("linear", 4, 4, bias=False, keep=True)
    lora.replace_layers(model, {"1.0": new})
    expect(model.get("1.0", None) is new, "replace_layers reaches a layer by a qualified name made of indices "
           "(an nn.Sequential's children are named 0, 1, ...)", "model[1][0] is the new layer",
           getattr(model.get("1.0", None), "type", "missing"))
