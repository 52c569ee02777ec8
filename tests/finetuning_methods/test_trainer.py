"""make_trainer: a Trainer, not yet trained, for the model and data it is given, with the handout's
TrainingArguments, whose evaluation reports the accuracy; trained, it lowers the loss and moves only what trains.

What trains is set by the judge (the subject's ``requires_grad`` builtin), never by the submission's other
parts, so that these tests judge the Trainer alone."""

import pytest
import torch

from ..judging import reviews
from ..judging.checks import equal, expect, names
from .assets import DATASET, MODEL_NAMES, TINY_MODELS, final_layers

ARGUMENTS = {"learning_rate": 0.003, "num_train_epochs": 2, "per_device_train_batch_size": 8,
             "per_device_eval_batch_size": 8, "eval_strategy": "epoch", "save_strategy": "no"}


def trainer_for(lora, model, name, learning_rate=0.003, epochs=2, batch_size=8, train=32, evaluate=16,
                eval_split="test"):
    """The submission's Trainer for ``model`` on the first reviews of the train split and of ``eval_split``."""
    train_set = lora.builtin("reviews_of", name, "train", train, keep=True)
    eval_set = lora.builtin("reviews_of", name, eval_split, evaluate, keep=True)
    trainer = lora.make_trainer(model, train_set, eval_set, lora.builtin("output_dir"), learning_rate, epochs,
                                batch_size)
    return trainer, train_set, eval_set


def test_training_arguments(lora, base_model):
    trainer, _, _ = trainer_for(lora, base_model("distilbert-tiny"), "distilbert-tiny")
    arguments = trainer.get("args").call("to_dict")
    found = {key: arguments.get(key) for key in ARGUMENTS}
    expect(found == ARGUMENTS, "make_trainer(..., learning_rate=0.003, epochs=2, batch_size=8): the Trainer's "
           "TrainingArguments say so, evaluate each epoch and save no checkpoint", ARGUMENTS, found)
    reported = arguments.get("report_to")
    expect(reported in ([], ["none"], "none"), "make_trainer's Trainer reports to no tracker (report_to=\"none\")",
           "none", reported)


def test_holds_the_model_and_the_data(lora, base_model):
    model = base_model("distilbert-tiny")
    trainer, train_set, eval_set = trainer_for(lora, model, "distilbert-tiny")
    wrong = [key for key, given in (("model", model), ("train_dataset", train_set), ("eval_dataset", eval_set))
             if lora.builtin("identity", trainer, key) != lora.builtin("identity", given)]
    expect(not wrong, "make_trainer's Trainer trains the model it is given on the train set and evaluates on the "
           "evaluation set", "model, train_dataset, eval_dataset as given", f"others: {names(wrong)}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_evaluate_reports_the_accuracy(lora, base_model, own_model, name):
    trainer, _, _ = trainer_for(lora, base_model(name), name, evaluate=40)
    found = trainer.call("evaluate")
    examples = reviews.examples(TINY_MODELS / name, DATASET, "test", 40)
    with torch.no_grad():
        logits = own_model(name)(input_ids=torch.stack([e["input_ids"] for e in examples]),
                                 attention_mask=torch.stack([e["attention_mask"] for e in examples])).logits
    expected = float((logits.argmax(-1) == torch.stack([e["labels"] for e in examples])).float().mean())
    accuracy = found.get("eval_accuracy") if isinstance(found, dict) else None
    expect(isinstance(accuracy, float) and abs(accuracy - expected) < 1e-6, "trainer.evaluate() reports "
           "eval_accuracy, the fraction of evaluation examples whose highest logit is their label",
           f"{expected:.4f}", accuracy if accuracy is not None else found)


def test_training_everything_lowers_the_loss(lora, base_model):
    model = base_model("distilbert-tiny")
    trainer, _, _ = trainer_for(lora, model, "distilbert-tiny", epochs=8, batch_size=4, train=16, evaluate=16,
                                eval_split="train")
    first = trainer.call("evaluate").get("eval_loss")
    trainer.call("train", keep=True)
    last = trainer.call("evaluate").get("eval_loss")
    expect(isinstance(first, float) and isinstance(last, float) and last < 0.95 * first, "make_trainer's Trainer, "
           "trained (everything trainable, 8 epochs of 16 reviews, learning rate 0.003), lowers the loss on its "
           "training reviews", f"below {0.95 * first:.4f}", last)


def test_training_the_final_layers_moves_them_alone(lora, base_model, own_model):
    """On the tiny models the final layers alone cannot lower the loss much (their features are nearly alike for
    every review): what is judged is that training reaches the head and nothing frozen."""
    model = base_model("distilbert-tiny")
    head = final_layers(own_model("distilbert-tiny"))
    lora.builtin("requires_grad", model, {p["name"]: p["name"] in head for p in model.parameters()})
    trainer, _, _ = trainer_for(lora, model, "distilbert-tiny", epochs=1, batch_size=8, train=16)
    before = model.tensors()
    trainer.call("train", keep=True)
    after = model.tensors()
    moved = sorted(key for key in before if key in after and not equal(after[key], before[key]))
    expect(moved == head, "training with the final layers alone trainable changes each of them and no frozen "
           "parameter", names(head), names(moved))
