"""train_epoch and evaluate, judged on the suite's own model, batches and optimiser against the judge's own run of
the same loop: one pass of zero_grad, loss, backward, step, and the mean loss; the mean loss and the accuracy
without training, in evaluation mode."""

import pytest
import torch

from ..judging.checks import close, expect, max_difference
from . import encoding
from .assets import DATASET, MODEL, TINY_MODELS


def own_loader(split, count, batch_size):
    return encoding.loader(TINY_MODELS / MODEL, DATASET, split, count, batch_size)


def test_train_epoch_is_one_pass_of_the_loop(lora, base_model, own_model):
    model = base_model(dropout=False)
    found = lora.train_epoch(model, lora.builtin("loader", "train", 16, 4, keep=True),
                             lora.builtin("adamw", model, 0.001, keep=True), "cpu")
    own = own_model(dropout=False)
    optimizer, losses = torch.optim.AdamW(own.parameters(), lr=0.001), []
    own.train()
    for batch in own_loader("train", 16, 4):
        optimizer.zero_grad()
        loss = own(**batch).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    expected = sum(losses) / len(losses)
    expect(isinstance(found, float) and abs(found - expected) < 1e-5, "train_epoch returns the mean of its "
           "batches' losses, as a float (4 batches of 4 reviews)", f"{expected:.6f}", found)
    name = "bert.encoder.layer.1.output.dense.weight"
    weights = model.tensors([name]).get(name)
    moved = dict(own.named_parameters())[name].detach()
    expect(close(weights, moved), "train_epoch takes one AdamW step per batch, after zeroing the gradients and "
           "back-propagating the batch's loss: the weights end where the judge's own loop leaves them",
           "values within 1e-5", max_difference(weights, moved))


def test_train_epoch_trains_in_training_mode(lora, base_model):
    model = base_model()  # eval mode, dropout on
    lora.train_epoch(model, lora.builtin("loader", "train", 4, 4, keep=True),
                     lora.builtin("adamw", model, 0.001, keep=True), "cpu")
    expect(model.get("training") is True, "train_epoch puts the model in training mode", "model.training True",
           model.get("training"))


@pytest.mark.parametrize(("count", "batch_size"), [(16, 8), (9, 4)], ids=["even", "uneven"])
def test_evaluate_reports_the_loss_and_the_accuracy(lora, base_model, own_model, count, batch_size):
    model = base_model()
    model.call("train")  # evaluate must put it in evaluation mode (its dropout off) itself
    found = lora.evaluate(model, lora.builtin("loader", "test", count, batch_size, keep=True), "cpu")
    own, losses, correct = own_model(), [], 0
    with torch.no_grad():
        for batch in own_loader("test", count, batch_size):
            output = own(**batch)
            losses.append(output.loss.item())
            correct += int((output.logits.argmax(-1) == batch["labels"]).sum())
    expected = {"loss": sum(losses) / len(losses), "accuracy": correct / count}
    ok = isinstance(found, dict) and sorted(found) == ["accuracy", "loss"] and all(
        isinstance(found[key], float) and abs(found[key] - value) < 1e-5 for key, value in expected.items())
    expect(ok, f"evaluate ({count} reviews in batches of {batch_size}), in evaluation mode: the mean of the batches' "
           "losses and the fraction of reviews whose highest logit is their label", expected, found)
    expect(model.get("training") is False, "evaluate leaves the model in evaluation mode", "model.training False",
           model.get("training"))
