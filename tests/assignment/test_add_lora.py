"""add_lora: which layers it wraps (defaults, the pack's target syntax, never the head, never twice) and errors.

add_lora is judged on what it does itself: which layers it replaces, what it gives each
``LinearLoRA`` it builds (a spy in the subject records the constructor's arguments), and what
it leaves alone. What those LinearLoRA objects then compute is judged by the LinearLoRA tests;
only the tests that run the wrapped model (logits right after add_lora, a model in another
dtype, peft's agreement) depend on the student's LinearLoRA, and they say so when it fails.
Each test first checks that add_lora wrapped what the judge's own matching expects, so that
no loop below runs over nothing.
"""

import contextlib
import re

import pytest
import torch
from torch import nn

from ..judging.checks import close, equal, expect, max_difference, names, of_kind
from ..judging.conventions import BY_PARENT, SUFFIXES
from ..judging.judge import SubjectRaised
from .assets import CONVENTIONS, DEFAULT_TARGETS, MODEL_NAMES
from .checks import logits, matching_linears, misplaced, unnamed_layers

BERT_LAYERS = range(4)  # bert-tiny has four transformer layers


def add_lora(lora, model, targets=None, **arguments):
    """``add_lora(model, ...)`` as this pack's signature takes it: ``targets`` (entries in its syntax) under its
    keyword, and the arguments its add_lora has no default for (``add_lora_arguments``) filled in."""
    named = CONVENTIONS.targets(targets) if targets is not None else {}
    return lora.add_lora(model, **{**CONVENTIONS.add_lora_arguments, **arguments}, **named)


def wrapped_names(model) -> set[str]:
    return set(of_kind(model, "LinearLoRA"))


def default_targets(own: nn.Module, name: str) -> set[str]:
    return set(matching_linears(own, DEFAULT_TARGETS[name]))


def wrapped_as_expected(model, expected: set[str], call: str) -> set[str]:
    """The LinearLoRA layers of ``model``, after checking they are exactly the ones the judge expects: what the rest
    of a test judges exists."""
    found = wrapped_names(model)
    expect(found == expected and expected, f"{call} wraps exactly the layers the contract's matching selects "
           "(the rest of this test judges those)", names(expected), names(found))
    return found


LINEAR_LORA_PARAMETERS = ("linear", "rank", "alpha", "dropout")  # the contract's order (dropout where there is one)


def linear_lora_calls(lora) -> list[dict]:
    """What add_lora gave each LinearLoRA it built, named as the contract names the arguments."""
    calls = []
    for call in lora.builtin("calls", "LinearLoRA"):
        given = dict(zip(LINEAR_LORA_PARAMETERS, call["args"], strict=False))
        given.update({k: v for k, v in call["kwargs"].items() if k in LINEAR_LORA_PARAMETERS})
        calls.append({"dropout": 0.0, **given} if CONVENTIONS.dropout else given)
    return calls


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_targets(lora, base_model, own_model, name):
    model = base_model(name)
    returned = add_lora(lora, model)
    expected = default_targets(own_model(name), name)
    found = wrapped_names(model)
    expect(returned is model, "add_lora works in place and returns the model it was given",
           "the same model object", getattr(returned, "type", type(returned).__name__))
    expect(found == expected,
           f"add_lora(model) on {name} wraps the architecture's default targets {DEFAULT_TARGETS[name]}",
           names(expected), names(found))


@pytest.mark.convention(targets=SUFFIXES)
@pytest.mark.parametrize("target, expected", [
    ("intermediate.dense", {f"bert.encoder.layer.{i}.intermediate.dense" for i in BERT_LAYERS}),
    ("attention.output.dense", {f"bert.encoder.layer.{i}.attention.output.dense" for i in BERT_LAYERS}),
    ("bert.encoder.layer.2.attention.self.key", {"bert.encoder.layer.2.attention.self.key"}),
    ("pooler.dense", {"bert.pooler.dense"}),  # part of the body, outside the transformer layers
])
def test_matches_a_suffix_of_the_qualified_name(lora, base_model, target, expected):
    model = base_model("bert-tiny")
    add_lora(lora, model, [target])
    found = wrapped_names(model)
    expect(found == expected,
           f"add_lora(target_modules=['{target}']) wraps the nn.Linear layers whose qualified name equals "
           f"'{target}' or ends with '.{target}'", names(expected), names(found))


@pytest.mark.convention(targets=BY_PARENT)
@pytest.mark.parametrize("targets, expected", [
    ({"intermediate": ["dense"]}, {f"bert.encoder.layer.{i}.intermediate.dense" for i in BERT_LAYERS}),
    ({"output": ["dense"]}, {f"bert.encoder.layer.{i}.output.dense" for i in BERT_LAYERS}),  # not attention.output
    ({"intermediate": ["dense"], "output": ["dense"]},
     {f"bert.encoder.layer.{i}.{part}.dense" for i in BERT_LAYERS for part in ("intermediate", "output")}),
], ids=["intermediate", "output", "both"])
def test_wraps_the_named_children_of_each_blocks_components(lora, base_model, targets, expected):
    model = base_model("bert-tiny")
    argument = CONVENTIONS.targets_argument
    lora.add_lora(model, **CONVENTIONS.add_lora_arguments, **{argument: targets})
    found = wrapped_names(model)
    expect(found == expected,
           f"add_lora({argument}={targets}) wraps, in every transformer block (layer.<i>), the children named under "
           "each of its components, and nothing else", names(expected), names(found))


@pytest.mark.convention(targets=BY_PARENT)
@pytest.mark.parametrize("targets, why", [
    ({"attention": ["dense"]}, "a BERT block's attention has no child named dense (its dense is in attention.output)"),
    ({"self": ["query"]}, "'self' is not a component of a block but of its attention"),
    ({}, "an empty mapping names no layer (it is not None, which means the default)"),
], ids=["no-such-child", "not-a-component", "empty"])
def test_what_names_no_child_of_a_block_matches_nothing(lora, base_model, targets, why):
    model = base_model("bert-tiny")
    argument = CONVENTIONS.targets_argument
    rule = f"add_lora({argument}={targets}): {why}, so nothing matches and add_lora raises a ValueError"
    try:
        lora.add_lora(model, **CONVENTIONS.add_lora_arguments, **{argument: targets})
    except ValueError:
        return
    expect(False, rule, "ValueError", f"no error; wrapped {names(wrapped_names(model))}")


@pytest.mark.convention(targets=SUFFIXES)
@pytest.mark.parametrize("targets, why", [
    (["ery"], "'ery' is only part of the name component 'query'"),
    (["attention"], "'attention' is a name component in the middle of '...attention.self.query', not its end"),
    (["bert.encoder.layer.0"], "'bert.encoder.layer.0' is the start of a layer's names, not their end"),
    ([], "an empty list names no layer (it is not None, which means the default)"),
], ids=["part-of-a-component", "middle-component", "prefix", "empty-list"])
def test_what_names_no_layer_matches_nothing(lora, base_model, targets, why):
    model = base_model("bert-tiny")
    rule = f"add_lora(target_modules={targets}): {why}, so nothing matches and add_lora raises a ValueError"
    try:
        add_lora(lora, model, targets)
    except ValueError:
        return
    expect(False, rule, "ValueError", f"no error; wrapped {names(wrapped_names(model))}")


@pytest.mark.convention(targets=SUFFIXES)  # children of a block's components never reach the head
@pytest.mark.parametrize("name, targets", [
    ("bert-tiny", ["classifier", "query"]),
    ("distilbert-tiny", ["pre_classifier", "classifier", "q_lin"]),
])
def test_never_wraps_the_head(lora, base_model, own_model, name, targets):
    model = base_model(name)
    expected = set(matching_linears(own_model(name), targets[-1:]))
    add_lora(lora, model, targets)
    found = wrapped_names(model)
    expect(found == expected, f"add_lora(target_modules={targets}) never wraps the classification head "
           f"(classifier, pre_classifier) but does wrap the '{targets[-1]}' layers", names(expected), names(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_does_not_wrap_twice(lora, base_model, own_model, name):
    model = base_model(name)
    add_lora(lora, model)
    first = wrapped_as_expected(model, default_targets(own_model(name), name), "add_lora(model)")
    with contextlib.suppress(ValueError):  # refusing a second call is allowed; wrapping a wrapped layer is not
        add_lora(lora, model)
    now = wrapped_names(model)
    nested = [n for n in now if any(other != n and other.startswith(n + ".") for other in now)]
    expect(not nested and now == first,
           "add_lora called twice: a layer that is already a LinearLoRA is not wrapped again",
           f"the same {len(first)} LinearLoRA layers, none inside another",
           f"{len(now)} LinearLoRA layers, nested in {names(nested)}")


NOTHING = {SUFFIXES: ["nonexistent"], BY_PARENT: ["nonexistent.dense"]}[CONVENTIONS.targets_syntax]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_no_match_raises_value_error_listing_the_linear_layers(lora, base_model, own_model, name):
    rule = (f"add_lora({CONVENTIONS.shown(NOTHING)}) on {name} raises a ValueError listing the model's linear "
            "layers, each by a name that tells it from the others (e.g. the names linear_layer_names gives)")
    try:
        add_lora(lora, base_model(name), NOTHING)
    except ValueError as error:
        missing = unnamed_layers(str(error), own_model(name))
        expect(not missing, rule, "every linear layer outside the head named",
               f"not named: {names(missing)}, in {str(error)[:300]!r}")
    else:
        expect(False, rule, "ValueError", "no error")


def small_roberta(lora):
    return lora.builtin("from_config", "roberta", vocab_size=40, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=40)


@pytest.mark.convention(targets=SUFFIXES)  # defaults by model type
def test_no_default_targets_for_other_architectures(lora):
    model = small_roberta(lora)
    argument = CONVENTIONS.targets_argument
    rule = f"add_lora on an architecture other than BERT and DistilBERT, without {argument}, raises a ValueError"
    try:
        add_lora(lora, model)
    except ValueError:
        pass
    else:
        expect(False, rule, "ValueError", "no error")
    entry = {SUFFIXES: "query", BY_PARENT: "intermediate.dense"}[CONVENTIONS.targets_syntax]
    add_lora(lora, model, [entry])
    expect(len(wrapped_names(model)) == 1,
           f"add_lora with an explicit {argument} works on any architecture",
           f"RoBERTa's one {entry} layer wrapped", names(wrapped_names(model)))


@pytest.mark.convention(targets=BY_PARENT)  # one default for every architecture
def test_by_default_adapts_every_linear_child_of_each_blocks_components_on_any_architecture(lora):
    model = small_roberta(lora)
    expected = {name for name in of_kind(model, "nn.Linear") if re.search(r"(^|\.)layer\.\d+\.[^.]+\.[^.]+$", name)}
    add_lora(lora, model)
    found = wrapped_names(model)
    argument = CONVENTIONS.targets_argument
    expect(found == expected and expected, f"add_lora({argument}=None) on a RoBERTa adapts every linear child of "
           "a component of each block (layer.<i>.<component>.<child>)", names(expected), names(found))


BODIES = {"bert-tiny": "bert.encoder", "distilbert-tiny": "distilbert.transformer"}  # what holds the blocks


@pytest.mark.convention(targets=BY_PARENT)  # the handout adapts model.distilbert.transformer, not the classifier
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_adapts_the_blocks_of_a_part_of_the_model(lora, base_model, own_model, name):
    model = base_model(name)
    add_lora(lora, model.get(BODIES[name]))
    found, expected = wrapped_names(model), default_targets(own_model(name), name)
    expect(found == expected and expected, f"add_lora(model.{BODIES[name]}) on {name}: a part of a classifier, whose "
           "blocks are its own layer.<i>, is adapted as the whole model is", names(expected), names(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_parameters_trainable_and_the_rest_untouched(lora, base_model, own_model, name):
    """A new parameter add_lora leaves frozen is its fault only where the student's own LinearLoRA, built alone,
    makes it trainable (a LoRALayer that creates a frozen B is judged by the LoRALayer tests)."""
    model = base_model(name)
    before = {p["identity"]: p["requires_grad"] for p in model.parameters()}
    add_lora(lora, model, rank=4, alpha=12)
    wrapped_as_expected(model, default_targets(own_model(name), name), "add_lora(model, rank=4, alpha=12)")
    after = model.parameters()
    alone = {p["name"].removeprefix("lora."): p["requires_grad"]
             for p in lora.LinearLoRA(lora.builtin("linear", 8, 8), 4, 12).parameters()}
    new = [p for p in after if p["identity"] not in before]
    changed = [p["name"] for p in after if p["identity"] in before and p["requires_grad"] != before[p["identity"]]]
    frozen_new = [p["name"] for p in new if not p["requires_grad"] and alone.get(p["name"].rpartition(".")[2], True)]
    expect(not frozen_new, "add_lora: the new LoRA parameters (A and B) are trainable (freezing is not its job)",
           "every new parameter trainable", f"frozen: {names(frozen_new)}")
    expect(not changed, "add_lora does not freeze or unfreeze anything else (freezing is not its job)",
           "requires_grad unchanged for the model's own parameters", f"changed: {names(changed)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_add_lora_keeps_a_trainable_body_trainable(lora, base_model, own_model, name):
    """Full fine-tuning plus LoRA: a body that trains before add_lora trains after it. The wrapped layers' own
    flags are LinearLoRA's to keep (its tests judge that), so they are left out here."""
    model = base_model(name)
    model.call("requires_grad_", True)
    before = {p["identity"] for p in model.parameters()}
    add_lora(lora, model)
    wrapped = wrapped_as_expected(model, default_targets(own_model(name), name), "add_lora(model)")
    inside = tuple(f"{layer}.linear." for layer in wrapped)
    frozen = [p["name"] for p in model.parameters()
              if p["identity"] in before and not p["requires_grad"] and not p["name"].startswith(inside)]
    expect(not frozen, "add_lora: every parameter the model had keeps its requires_grad, trainable or frozen",
           "every parameter of a trainable model still trainable", f"frozen: {names(frozen)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_passes_rank_alpha_and_dropout_to_every_lora(lora, base_model, own_model, name):
    """What add_lora gives each LinearLoRA it builds, as a spy in the subject records it: the model's own layer,
    and the rank, alpha and dropout add_lora was given (what LinearLoRA does with them is its tests' business)."""
    model = base_model(name)
    originals = {n: m["identity"] for n, m in of_kind(model, "nn.Linear").items()}
    lora.builtin("spy", "LinearLoRA")
    given_dropout = {"dropout": 0.5} if CONVENTIONS.dropout else {}
    shown = ", ".join(("model", "rank=4", "alpha=12", *(f"{k}={v}" for k, v in given_dropout.items())))
    add_lora(lora, model, rank=4, alpha=12, **given_dropout)
    expected = wrapped_as_expected(model, default_targets(own_model(name), name), f"add_lora({shown})")
    calls = linear_lora_calls(lora)
    given = sorted(lora.builtin("identity", call["linear"]) if hasattr(call.get("linear"), "handle") else None
                   for call in calls)
    expect(given == sorted(originals[n] for n in expected),
           "add_lora builds one LinearLoRA per matching layer, on the model's own nn.Linear",
           f"{len(expected)} LinearLoRA(layer, ...) calls, one per wrapped layer", f"{len(calls)} calls")
    arguments = sorted({(call.get("rank"), call.get("alpha"), call.get("dropout")) for call in calls}, key=repr)
    dropout = given_dropout.get("dropout")
    expect(arguments == [(4, 12, dropout)],
           f"add_lora({shown}): every LinearLoRA it builds gets that rank, alpha" + (" and dropout" if dropout else ""),
           f"rank 4, alpha 12, dropout {dropout}",
           ", ".join(f"rank {r}, alpha {a}, dropout {d}" for r, a, d in arguments))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_unchanged_right_after_add_lora(lora, base_model, own_model, device, name):
    model = base_model(name)
    reference = own_model(name)
    input_ids = torch.randint(5, reference.config.vocab_size, (3, 12))
    with torch.no_grad():
        expected = reference(input_ids=input_ids).logits  # the judge's own copy of the base model
    add_lora(lora, model)
    for layer in wrapped_as_expected(model, default_targets(reference, name), "add_lora(model)"):
        B = model.get(f"{layer}.lora.B", None)  # zero, as a LoRALayer starts (its own tests judge that it does)
        if isinstance(B, torch.Tensor):
            model.assign(f"{layer}.lora.B", torch.zeros(B.shape, dtype=B.dtype))
    found = logits(model, input_ids, device)
    same = equal(found, expected) if device.type == "cpu" else close(found, expected)
    expect(same,
           f"add_lora on {name}: with every B zero, the logits right after add_lora equal the base model's "
           "(this runs your LinearLoRA too: if its tests fail, fix those first)",
           "identical logits", max_difference(found, expected))


def assert_lora_follows(lora, model, own: nn.Module, dtype, device):
    """add_lora on a model in ``dtype`` on ``device``: what it adds sits there too, and the model still runs."""
    input_ids = torch.randint(5, 95, (2, 8))  # the tiny models have 95 tokens
    add_lora(lora, model)
    wrapped_as_expected(model, default_targets(own, "bert-tiny"), "add_lora(model)")
    where = f"a {str(dtype).removeprefix('torch.')} model on {device.type}"
    parameters = model.parameters()
    wrong = misplaced([p for p in parameters if ".lora." not in p["name"]], dtype, device.type)
    expect(not wrong, f"add_lora on {where}: every layer it wraps, and the rest of the model, stays in that dtype "
           "on that device", f"every parameter in {dtype} on {device.type}", names(wrong))
    if misplaced([p for p in parameters if ".lora." in p["name"]], dtype, device.type):
        return  # LoRA parameters LinearLoRA put elsewhere: its own dtype tests fail, and the model cannot run here
    found = logits(model, input_ids, device)
    expect(found.dtype == dtype, f"add_lora on {where}: the model still runs in that dtype", dtype, found.dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_lora_follows_the_model_dtype(lora, base_model, own_model, device, dtype):
    assert_lora_follows(lora, base_model("bert-tiny", dtype=dtype), own_model("bert-tiny"), dtype, device)


@pytest.mark.cuda
def test_lora_follows_a_model_on_the_gpu(lora, own_model):
    assert_lora_follows(lora, lora.model("bert-tiny", device="cuda"), own_model("bert-tiny"), torch.float32,
                        torch.device("cuda"))


@pytest.mark.hidden
@pytest.mark.peft
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_agrees_with_peft(lora, base_model, own_model, device, name):
    """The judge draws A and B, gives them to the submission's LoRA and to peft's (in the judge's own copy of the
    model, never the subject's), and compares the logits."""
    from peft import LoraConfig, get_peft_model

    ours = base_model(name)
    add_lora(lora, ours, rank=4, alpha=12)
    wrapped = wrapped_as_expected(ours, default_targets(own_model(name), name), "add_lora(model, rank=4, alpha=12)")
    theirs = get_peft_model(own_model(name), LoraConfig(r=4, lora_alpha=12, lora_dropout=0.0,
                                                        target_modules=sorted(wrapped))).eval()
    with torch.no_grad():
        for layer_name in of_kind(ours, "LinearLoRA"):
            for attribute, value in (("rank", 4), ("alpha", CONVENTIONS.alpha_for(3.0, 4)),  # the LoRALayer's own
                                     (CONVENTIONS.scaling_attribute, 3.0)):  # tests
                with contextlib.suppress(SubjectRaised):  # judge its scaling; a read-only property is as good
                    ours.set(f"{layer_name}.lora.{attribute}", value)
            twin = theirs.base_model.model.get_submodule(layer_name)
            A, B = torch.randn(twin.in_features, 4), 0.1 * torch.randn(4, twin.out_features)
            ours.assign(f"{layer_name}.lora.A", A)
            ours.assign(f"{layer_name}.lora.B", B)
            twin.lora_A["default"].weight.copy_(A.T)
            twin.lora_B["default"].weight.copy_(B.T)
        input_ids = torch.randint(5, theirs.config.vocab_size, (3, 12))
        expected = theirs(input_ids=input_ids).logits
    found = logits(ours, input_ids, device)
    expect(close(found, expected, atol=1e-5, rtol=0),
           f"{name} with LoRA r=4, alpha=12 on the default targets computes what peft computes with the same A and B",
           "peft's logits within 1e-5", max_difference(found, expected))
