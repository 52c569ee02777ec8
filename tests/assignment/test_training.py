"""Training a model built with the submission's functions: what is frozen stays put, the loss goes down."""

import pytest
import torch

from .assets import DATASET, MODEL_NAMES, TINY_MODELS, is_head
from .checks import expect, modules_of_type, names


def lora_model(lora, name, device):
    model, tokenizer = lora.initialize_base_model(str(TINY_MODELS / name), num_labels=2)
    lora.add_lora(model)
    return model.to(device), tokenizer


def batches(lora, tokenizer, count: int, device):
    examples = lora.load_reviews(str(DATASET))["train"]
    return [{k: v.to(device) for k, v in batch.items()}
            for batch in lora.make_batches(tokenizer, examples[:16 * count], batch_size=16)]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_frozen_weights_unchanged_and_lora_learns(lora, name, device):
    model, tokenizer = lora_model(lora, name, device)
    lora_params = {id(p) for m in modules_of_type(model, lora.LoRALayer).values() for p in m.parameters()}
    body = {n: p.detach().clone() for n, p in model.named_parameters() if id(p) not in lora_params and not is_head(n)}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)  # given every parameter
    model.train()
    for batch in batches(lora, tokenizer, 3, device):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    changed = [n for n, p in model.named_parameters() if n in body and not torch.equal(p, body[n])]
    expect(not changed, f"{name}: after AdamW steps, the frozen pretrained weights are bit-for-bit unchanged",
           "every body weight unchanged", f"changed: {names(changed)}")
    stuck = [n for n, m in modules_of_type(model, lora.LoRALayer).items() if torch.count_nonzero(m.B) == 0]
    expect(not stuck, f"{name}: after AdamW steps, every LoRA B has moved away from zero "
           "(the LoRA path is part of the forward pass and gets gradients)",
           "non-zero B everywhere", f"B still zero in {names(stuck)}")


def mean_loss(model, batches) -> float:
    model.eval()
    with torch.no_grad():
        return sum(model(**batch).loss.item() for batch in batches) / len(batches)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_provided_train_lowers_the_loss(lora, name, device):
    model, tokenizer = lora_model(lora, name, device)
    data = batches(lora, tokenizer, 6, device)
    before = mean_loss(model, data)
    history = lora.train(model, data, epochs=4, lr=2e-2, device=device, progress=False)
    after = mean_loss(model, data)
    expect(after < before - 0.05, f"{name}: a few epochs of the provided train() on the bundled data, with "
           "a model built by initialize_base_model and add_lora, lower the training loss",
           f"loss below {before - 0.05:.3f} (it was {before:.3f})", f"{after:.3f}")
    expect(len(history.step_losses) == 4 * len(data), "train() returns the loss of every step",
           4 * len(data), len(history.step_losses))
