"""replace_linear_with_lora: every nn.Linear of the GPT, at every depth, but the head, wrapped in a
LinearWithLoRA of the given rank and alpha, around the very layer it replaces.

Which layers were wrapped is read from the model's modules, and what each LinearWithLoRA was given from a spy
on its constructor, so that these tests judge the replacing alone, not what the wrapper then computes.
"""

import pytest
from torch import nn

from ..judging.checks import arguments_of, expect, names, of_kind

HEAD = "out_head"


def linears_but_the_head(model: nn.Module) -> list[str]:
    return sorted(name for name, module in model.named_modules() if isinstance(module, nn.Linear) and name != HEAD)


def test_wraps_every_linear_of_the_gpt_but_the_head(lora, base_model, own_model):
    model = base_model()
    lora.replace_linear_with_lora(model, 4, 2.0)
    expected, found = linears_but_the_head(own_model), sorted(of_kind(model, "LinearWithLoRA"))
    expect(found == expected, "replace_linear_with_lora wraps each nn.Linear of the model in a LinearWithLoRA, "
           "inside every block (W_query, W_key, W_value, out_proj, ff.layers.0, ff.layers.2)",
           f"{len(expected)} layers: {names(expected)}", f"{len(found)}: {names(found)}")
    head = {m["name"]: m for m in model.modules("LinearWithLoRA", "nn.Linear")}.get(HEAD)
    expect(head is not None and head["kinds"] == ["nn.Linear"],
           "replace_linear_with_lora leaves the output head out_head the nn.Linear it is (trained whole, not wrapped)",
           "out_head an nn.Linear", "no out_head" if head is None else head["type"])


def test_wraps_the_very_layers_with_the_given_rank_and_alpha(lora, base_model, own_model):
    model = base_model()
    originals = {name: m["identity"] for name, m in of_kind(model, "nn.Linear").items() if name != HEAD}
    lora.builtin("spy", "LinearWithLoRA")
    lora.replace_linear_with_lora(model, 3, 5.0)
    calls = [arguments_of(call, ("linear", "rank", "alpha")) for call in lora.builtin("calls", "LinearWithLoRA")]
    given = sorted(lora.builtin("identity", call["linear"]) if hasattr(call.get("linear"), "handle") else -1
                   for call in calls)
    expect(given == sorted(originals.values()), "replace_linear_with_lora builds one LinearWithLoRA per layer, "
           "around the model's own nn.Linear (not a copy)", f"{len(originals)} calls, one on each layer",
           f"{len(calls)} calls, on {len(set(given) & set(originals.values()))} of the model's layers")
    arguments = sorted({(call.get("rank"), call.get("alpha")) for call in calls}, key=repr)
    expect(arguments == [(3, 5.0)], "replace_linear_with_lora(model, rank=3, alpha=5.0) gives every LinearWithLoRA "
           "that rank and alpha", "rank 3, alpha 5.0", arguments)


@pytest.mark.parametrize("depth", [1, 3])
def test_reaches_linears_at_any_depth(lora, depth):
    inner = lora.builtin("linear", 6, 6)
    for _ in range(depth):
        inner = lora.builtin("sequential", lora.builtin("linear", 6, 6), inner)
    lora.replace_linear_with_lora(inner, 2, 1.0)
    expected = sorted([*(".".join(["1"] * level + ["0"]) for level in range(depth)), ".".join(["1"] * depth)])
    found = sorted(of_kind(inner, "LinearWithLoRA"))
    expect(found == expected, f"replace_linear_with_lora wraps the nn.Linear layers at every depth ({depth + 1} "
           "layers in nested nn.Sequential)", names(expected), names(found))
