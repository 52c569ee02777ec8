"""merge_lora: the same outputs from plain nn.Linear layers, and the base model's parameter count."""

import pytest
import torch
from torch import nn

from .assets import MODEL_NAMES
from .checks import close, expect, max_difference, misplaced, modules_of_type, names


def trained_lora_model(lora, base_model, name):
    """A model with LoRA whose B and biases are non-zero, as after some training."""
    model = lora.add_lora(base_model(name), rank=4, alpha=12)  # scaling 3
    with torch.no_grad():
        for module in modules_of_type(model, lora.LinearLoRA).values():
            module.lora.B.normal_(std=0.05)
            module.linear.bias.normal_(std=0.1)
    return model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_logits_equal_unmerged(lora, base_model, device, name):
    model = trained_lora_model(lora, base_model, name)
    input_ids = torch.randint(5, model.config.vocab_size, (4, 16), device=device)
    with torch.no_grad():
        expected = model(input_ids=input_ids).logits
        lora.merge_lora(model)
        found = model(input_ids=input_ids).logits
    expect(close(found, expected, atol=1e-5, rtol=0),
           f"merge_lora on {name}: the merged model's logits equal the unmerged model's "
           "(W + scaling * (A @ B).T, bias unchanged)", "within 1e-5", max_difference(found, expected))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merged_weight_formula(lora, base_model, name):
    model = trained_lora_model(lora, base_model, name)
    wrapped = modules_of_type(model, lora.LinearLoRA)
    expected = {name: (m.linear.weight + m.lora.scaling * (m.lora.A @ m.lora.B).T).detach().clone()
                for name, m in wrapped.items()}
    biases = {name: m.linear.bias.detach().clone() for name, m in wrapped.items()}
    lora.merge_lora(model)
    for name, weight in expected.items():
        merged = model.get_submodule(name)
        expect(close(merged.weight, weight, atol=1e-6), f"merge_lora: {name}.weight becomes W + scaling * (A @ B).T",
               "within 1e-6", max_difference(merged.weight, weight))
        expect(torch.equal(merged.bias, biases[name]), f"merge_lora: {name}.bias stays as it was",
               "the same bias", max_difference(merged.bias, biases[name]))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_merge_leaves_plain_linear_layers_and_the_base_count(lora, base_model, name):
    model = trained_lora_model(lora, base_model, name)
    wrapped = set(modules_of_type(model, lora.LinearLoRA))
    returned = lora.merge_lora(model)
    expect(returned is model, "merge_lora works in place and returns the model",
           "the same model", type(returned).__name__)
    not_plain = [n for n in wrapped if type(model.get_submodule(n)) is not nn.Linear]
    expect(not not_plain, "merge_lora replaces every LinearLoRA by a plain nn.Linear",
           "nn.Linear where each LinearLoRA was", f"something else at {names(not_plain)}")
    base = base_model(name)
    for label, count in (("all", lambda m: sum(p.numel() for p in m.parameters())),
                         ("trainable", lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad))):
        expect(count(model) == count(base),
               f"merge_lora: the merged model has the base model's {label} parameter count", count(base), count(model))


# How far merged logits may be from unmerged ones. Rounding W + scaling * (A @ B).T to
# bfloat16's 8 bits of mantissa moved the tiny models' logits (about 0.03 in size) by up
# to 2.4e-4 with the reference.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.bfloat16: 2e-3}


def assert_merge_follows(lora, model, dtype, device):
    """merge_lora on a model in ``dtype`` on ``device``: the new layers sit there too, and compute the same."""
    input_ids = torch.randint(5, model.config.vocab_size, (4, 16), device=device)
    where = f"a {str(dtype).removeprefix('torch.')} model on {device.type}"
    with torch.no_grad():
        expected = model(input_ids=input_ids).logits
        lora.merge_lora(model)
    wrong = misplaced(model, dtype, device.type)
    expect(not wrong, f"merge_lora on {where}: each new nn.Linear sits in the dtype and on the device of the "
           "layer it replaces", f"every parameter in {dtype} on {device.type}", names(wrong))
    with torch.no_grad():
        found = model(input_ids=input_ids).logits
    expect(close(found, expected, atol=TOLERANCE[dtype], rtol=0),
           f"merge_lora on {where}: the merged model's logits equal the unmerged model's",
           f"within {TOLERANCE[dtype]:g}", max_difference(found, expected))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
def test_merged_layers_follow_the_dtype(lora, base_model, device, dtype):
    assert_merge_follows(lora, trained_lora_model(lora, base_model, "bert-tiny").to(dtype), dtype, device)


@pytest.mark.cuda
def test_merged_layers_follow_a_model_on_the_gpu(lora, base_model):
    model = trained_lora_model(lora, base_model, "bert-tiny").cuda()
    assert_merge_follows(lora, model, torch.float32, torch.device("cuda"))


@pytest.mark.hidden
def test_merge_after_training_with_dropout(lora, base_model, device):
    model = lora.add_lora(base_model("distilbert-tiny"), rank=4, alpha=8,
                          target_modules=["q_lin", "v_lin", "lin1"], dropout=0.1)
    input_ids = torch.randint(5, model.config.vocab_size, (8, 16), device=device)
    labels = torch.randint(0, 2, (8,), device=device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        expected = model(input_ids=input_ids).logits
        lora.merge_lora(model)
        found = model(input_ids=input_ids).logits
    expect(close(found, expected, atol=1e-5, rtol=0), "merge_lora after training with dropout, on q_lin, v_lin "
           "and lin1: the merged model's logits equal the unmerged model's in eval mode",
           "within 1e-5", max_difference(found, expected))
