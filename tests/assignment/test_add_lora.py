"""add_lora: which layers it wraps (defaults, name-suffix matching, never the head, never twice) and errors."""

import contextlib

import pytest
import torch
from torch import nn

from .assets import DEFAULT_TARGETS, MODEL_NAMES
from .checks import close, equal, expect, logits, max_difference, misplaced, names, of_kind, unregistered

BERT_LAYERS = range(4)  # bert-tiny has four transformer layers


def wrapped_names(model) -> set[str]:
    return set(of_kind(model, "LinearLoRA"))


def linear_names(model: nn.Module, suffix: str) -> set[str]:
    """In the judge's own copy of a model: the nn.Linear layers whose name ends with ``suffix``."""
    return {name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and name.endswith("." + suffix)}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_targets(lora, base_model, own_model, name):
    model = base_model(name)
    originals = {n: m["identity"] for n, m in of_kind(model, "nn.Linear").items()}
    returned = lora.add_lora(model)
    expected = set().union(*(linear_names(own_model(name), target) for target in DEFAULT_TARGETS[name]))
    after = {m["name"]: m["identity"] for m in model.modules()}
    found = wrapped_names(model)
    expect(returned is model, "add_lora works in place and returns the model it was given",
           "the same model object", getattr(returned, "type", type(returned).__name__))
    expect(found == expected,
           f"add_lora(model) on {name} wraps the architecture's default targets {DEFAULT_TARGETS[name]}",
           names(expected), names(found))
    not_kept = [n for n in found if after.get(f"{n}.linear") != originals.get(n)]
    expect(not not_kept, "add_lora: each LinearLoRA wraps the model's own nn.Linear object",
           "wrapped.linear is the original layer", f"another layer in {names(not_kept)}")


@pytest.mark.parametrize("target, expected", [
    ("intermediate.dense", {f"bert.encoder.layer.{i}.intermediate.dense" for i in BERT_LAYERS}),
    ("attention.output.dense", {f"bert.encoder.layer.{i}.attention.output.dense" for i in BERT_LAYERS}),
    ("bert.encoder.layer.2.attention.self.key", {"bert.encoder.layer.2.attention.self.key"}),
])
def test_matches_a_suffix_of_the_qualified_name(lora, base_model, target, expected):
    model = base_model("bert-tiny")
    lora.add_lora(model, target_modules=[target])
    found = wrapped_names(model)
    expect(found == expected,
           f"add_lora(target_modules=['{target}']) wraps the nn.Linear layers whose qualified name equals "
           f"'{target}' or ends with '.{target}'", names(expected), names(found))


def test_a_partial_name_matches_nothing(lora, base_model):
    model = base_model("bert-tiny")
    rule = ("add_lora(target_modules=['ery']): 'ery' is not a name component of "
            "'...attention.self.query', so nothing matches and add_lora raises a ValueError")
    try:
        lora.add_lora(model, target_modules=["ery"])
    except ValueError:
        return
    expect(False, rule, "ValueError", f"no error; wrapped {names(wrapped_names(model))}")


@pytest.mark.parametrize("name, targets", [
    ("bert-tiny", ["classifier", "query"]),
    ("distilbert-tiny", ["pre_classifier", "classifier", "q_lin"]),
])
def test_never_wraps_the_head(lora, base_model, own_model, name, targets):
    model = base_model(name)
    expected = linear_names(own_model(name), targets[-1])
    lora.add_lora(model, target_modules=targets)
    found = wrapped_names(model)
    expect(found == expected, f"add_lora(target_modules={targets}) never wraps the classification head "
           f"(classifier, pre_classifier) but does wrap the '{targets[-1]}' layers", names(expected), names(found))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_does_not_wrap_twice(lora, base_model, name):
    model = base_model(name)
    lora.add_lora(model)
    first = wrapped_names(model)
    with contextlib.suppress(ValueError):  # refusing a second call is allowed; wrapping a wrapped layer is not
        lora.add_lora(model)
    now = wrapped_names(model)
    nested = [n for n in now if any(other != n and other.startswith(n + ".") for other in now)]
    expect(not nested and now == first,
           "add_lora called twice: a layer that is already a LinearLoRA is not wrapped again",
           f"the same {len(first)} LinearLoRA layers, none inside another",
           f"{len(now)} LinearLoRA layers, nested in {names(nested)}")


@pytest.mark.parametrize("name, layer_names", [
    ("bert-tiny", ("query", "dense")),
    ("distilbert-tiny", ("q_lin", "lin1")),
])
def test_no_match_raises_value_error_listing_the_linear_layers(lora, base_model, name, layer_names):
    rule = f"add_lora(target_modules=['nonexistent']) on {name} raises a ValueError listing the model's linear layers"
    try:
        lora.add_lora(base_model(name), target_modules=["nonexistent"])
    except ValueError as error:
        expect(all(layer in str(error) for layer in layer_names), rule,
               f"a message naming layers such as {' and '.join(layer_names)}", repr(str(error)))
    else:
        expect(False, rule, "ValueError", "no error")


def test_no_default_targets_for_other_architectures(lora):
    model = lora.builtin("from_config", "roberta", vocab_size=40, hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32, max_position_embeddings=40)
    rule = "add_lora on an architecture other than BERT and DistilBERT, without target_modules, raises a ValueError"
    try:
        lora.add_lora(model)
    except ValueError:
        pass
    else:
        expect(False, rule, "ValueError", "no error")
    lora.add_lora(model, target_modules=["query"])
    expect(len(wrapped_names(model)) == 1,
           "add_lora with explicit target_modules works on any architecture",
           "RoBERTa's one query layer wrapped", names(wrapped_names(model)))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_parameters_trainable_and_the_rest_untouched(lora, base_model, name):
    model = base_model(name)
    before = {p["identity"]: p["requires_grad"] for p in model.parameters()}
    lora.add_lora(model, rank=4, alpha=12)
    after = model.parameters()
    new = [p for p in after if p["identity"] not in before]
    changed = [p["name"] for p in after if p["identity"] in before and p["requires_grad"] != before[p["identity"]]]
    frozen_new = [p["name"] for p in new if not p["requires_grad"]]
    expect(new and not frozen_new, "add_lora: the new LoRA parameters (A and B) are trainable",
           "every new parameter trainable", f"frozen: {names(frozen_new)}" if new else "no new parameters")
    expect(not changed, "add_lora does not freeze or unfreeze anything else (freezing is not its job)",
           "requires_grad unchanged for the model's own parameters", f"changed: {names(changed)}")
    layers = [(model.get(f"{n}.rank", None), model.get(f"{n}.scaling", None)) for n in of_kind(model, "LoRALayer")]
    expect(all(rank == 4 and isinstance(scaling, int | float) and scaling == pytest.approx(3.0)
               for rank, scaling in layers),
           "add_lora(rank=4, alpha=12) builds every LoRA layer with that rank and alpha",
           "rank 4, scaling 3", ", ".join(sorted({f"rank {rank}, scaling {scaling}" for rank, scaling in layers})))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_add_lora_keeps_a_trainable_body_trainable(lora, base_model, name):
    """Full fine-tuning plus LoRA: a body that trains before add_lora trains after it."""
    model = base_model(name)
    model.call("requires_grad_", True)
    before = {p["identity"] for p in model.parameters()}
    lora.add_lora(model)
    frozen = [p["name"] for p in model.parameters() if p["identity"] in before and not p["requires_grad"]]
    expect(not frozen, "add_lora: every parameter the model had keeps its requires_grad, trainable or frozen",
           "every parameter of a trainable model still trainable", f"frozen: {names(frozen)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_passes_rank_alpha_and_dropout_to_every_lora(lora, base_model, name):
    """Each LoRA layer, in training mode, on an input of ones: with dropout 0.5 its output is not
    scaling * x @ A @ B (the chance that nothing at all is dropped is below 2**-1000)."""
    model = base_model(name)
    lora.add_lora(model, rank=4, alpha=12, dropout=0.5)  # scaling 3
    model.call("train")
    rule = "add_lora(rank=4, alpha=12, dropout=0.5): every LoRA it builds gets that rank, alpha and dropout"
    wrong, undropped = [], []
    for layer in of_kind(model, "LoRALayer"):
        A, B = model.get(f"{layer}.A", None), model.get(f"{layer}.B", None)
        if not (isinstance(A, torch.Tensor) and isinstance(B, torch.Tensor) and A.shape[1] == B.shape[0] == 4):
            wrong.append(layer)
            continue
        B = torch.randn(B.shape)
        model.assign(f"{layer}.B", B)
        x = torch.ones(32, A.shape[0])
        found = model.get(layer)(x)
        if close(found, 3 * x @ A @ B, atol=1e-4):
            undropped.append(layer)
    expect(not wrong, rule, "A and B of rank 4 everywhere", f"another rank in {names(wrong)}")
    expect(not undropped, rule, "dropout acting on every LoRA path in training mode",
           f"no dropout in {names(undropped)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_unchanged_right_after_add_lora(lora, base_model, own_model, device, name):
    model = base_model(name)
    reference = own_model(name)
    input_ids = torch.randint(5, reference.config.vocab_size, (3, 12))
    with torch.no_grad():
        expected = reference(input_ids=input_ids).logits  # the judge's own copy of the base model
    lora.add_lora(model)
    found = logits(model, input_ids, device)
    same = equal(found, expected) if device.type == "cpu" else close(found, expected)
    expect(same,
           f"add_lora on {name}: since every B starts at zero, the logits right after add_lora equal the base model's",
           "identical logits", max_difference(found, expected))


def assert_lora_follows(lora, model, dtype, device):
    """add_lora on a model in ``dtype`` on ``device``: what it adds sits there too, and the model still runs."""
    input_ids = torch.randint(5, 95, (2, 8))  # the tiny models have 95 tokens
    lora.add_lora(model)
    where = f"a {str(dtype).removeprefix('torch.')} model on {device.type}"
    wrong = misplaced(model.parameters(), dtype, device.type)
    expect(not wrong, f"add_lora on {where}: the LoRA parameters sit in the dtype and on the device of the "
           "layer they wrap", f"every parameter in {dtype} on {device.type}", names(wrong))
    plain = unregistered(lora, model, of_kind(model, "LoRALayer"))
    expect(not plain, f"add_lora on {where}: A and B are nn.Parameters registered on their LoRALayer",
           "registered parameters", f"plain tensors or unregistered: {names(plain)}")
    found = logits(model, input_ids, device)
    expect(found.dtype == dtype, f"add_lora on {where}: the model still runs in that dtype", dtype, found.dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_lora_follows_the_model_dtype(lora, base_model, device, dtype):
    assert_lora_follows(lora, base_model("bert-tiny", dtype=dtype), dtype, device)


@pytest.mark.cuda
def test_lora_follows_a_model_on_the_gpu(lora):
    assert_lora_follows(lora, lora.model("bert-tiny", device="cuda"), torch.float32, torch.device("cuda"))


@pytest.mark.hidden
@pytest.mark.peft
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_lora_agrees_with_peft(lora, base_model, own_model, device, name):
    """The judge draws A and B, gives them to the submission's LoRA and to peft's (in the judge's own copy of the
    model, never the subject's), and compares the logits."""
    from peft import LoraConfig, get_peft_model

    ours = base_model(name)
    lora.add_lora(ours, rank=4, alpha=12)
    theirs = get_peft_model(own_model(name), LoraConfig(r=4, lora_alpha=12, lora_dropout=0.0,
                                                        target_modules=list(DEFAULT_TARGETS[name]))).eval()
    with torch.no_grad():
        for layer_name in of_kind(ours, "LinearLoRA"):
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
