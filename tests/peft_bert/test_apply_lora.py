"""apply_lora: the model wrapped by peft's get_peft_model with the config given (the suite's own LoraConfig): LoRA
on query and value and the classifier trainable, nothing else; the logits unchanged at first."""

import math

import torch

from ..judging.checks import close, expect, max_difference, names, tensor
from ..judging.protocol import Placed
from .assets import CONVENTIONS

LORA = "small bert, 5 labels, LoRA r=8 on query and value with peft, trainable"  # [figures]


def own_lora(model, rank=8, alpha=16, dropout=0.1):
    from peft import LoraConfig, TaskType, get_peft_model

    return get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha,
                                            lora_dropout=dropout, target_modules=["query", "value"]))


def test_trains_what_peft_trains(lora, base_model, own_model):
    wrapped = lora.apply_lora(base_model(3), lora.builtin("lora_config", 8, 16, 0.1, keep=True))
    expect(lora.builtin("is_peft_model", wrapped), "apply_lora returns get_peft_model's model",
           "a PeftModelForSequenceClassification", wrapped.type)
    expected = sorted(name for name, p in own_lora(own_model(3)).named_parameters() if p.requires_grad)
    found = sorted(p["name"] for p in wrapped.parameters() if p["requires_grad"])
    expect(found == expected, "apply_lora: LoRA's matrices on query and value and the classifier trainable, "
           "everything else frozen, as get_peft_model with the config given makes it", names(expected, 8),
           names(found, 8))


def test_logits_unchanged_right_after(lora, base_model, own_model):
    wrapped = lora.apply_lora(base_model(3), lora.builtin("lora_config", 4, 8, 0.0, keep=True))
    expect(lora.builtin("is_peft_model", wrapped), "the logits are judged on get_peft_model's model",
           "a PeftModelForSequenceClassification", wrapped.type)
    input_ids = torch.randint(5, 90, (2, 12))
    output = wrapped.call("__call__", input_ids=Placed(input_ids), no_grad=True)
    found = tensor(output.get("logits") if isinstance(output, dict) else output, "the model's output has logits")
    with torch.no_grad():
        expected = own_model(3)(input_ids=input_ids).logits
    expect(close(found, expected), "right after apply_lora the model gives the logits it gave before (LoRA's B "
           "starts at zero)", "values within 1e-5", max_difference(found, expected))


def test_the_handouts_figure(lora):
    wrapped = lora.apply_lora(lora.builtin("small_bert", 30522, 5, keep=True),
                              lora.builtin("lora_config", 8, 16, 0.1, keep=True))
    found = sum(math.prod(p["shape"]) for p in wrapped.parameters() if p["requires_grad"])
    expected = CONVENTIONS.figures[LORA]
    expect(found == expected, "apply_lora on the small BERT with 5 labels at rank 8: trainable parameters",
           f"{expected:,}", f"{found:,}")
