"""The reference's LoRA agrees with peft's: an exported adapter, loaded by peft, gives the same logits."""

import copy

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from grader.assignments.pack import find
from grader.layout import ROOT
from tests.judging.submission import load_submission

LORA_BERT = find("lora-bert")

peft = pytest.importorskip("peft", reason="peft is in the dev extra")


def reference():
    return load_submission(LORA_BERT.reference).module


@pytest.mark.parametrize("name, targets", [("bert-tiny", ["query", "value", "intermediate.dense"]),
                                           ("distilbert-tiny", ["q_lin", "v_lin", "lin1"])])
def test_peft_loads_the_exported_adapter_and_computes_the_same_logits(tmp_path, name, targets):
    lora = reference()
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(ROOT / "tiny_models" / name, num_labels=2)
    model = copy.deepcopy(base)
    for param_name, param in model.named_parameters():
        param.requires_grad = param_name.split(".")[0] in lora.HEAD_MODULES
    lora.add_lora(model, rank=4, alpha=12, target_modules=targets)
    inputs = torch.randint(5, model.config.vocab_size, (6, 12))
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        model(input_ids=inputs, labels=labels).loss.backward()
        optimizer.step()
    assert all(torch.count_nonzero(m.lora.B) for m in model.modules() if isinstance(m, lora.LinearLoRA))

    lora.export_peft_adapter(model, tmp_path / "adapter")
    theirs = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "adapter").eval()
    model.eval()
    with torch.no_grad():
        ours_logits, their_logits = model(input_ids=inputs).logits, theirs(input_ids=inputs).logits
    assert torch.allclose(ours_logits, their_logits, atol=1e-5, rtol=0), (ours_logits - their_logits).abs().max()
    assert not torch.allclose(their_logits, base.eval()(input_ids=inputs).logits, atol=1e-3)  # the adapter mattered


def test_export_refuses_a_model_without_lora(tmp_path):
    lora = reference()
    model = AutoModelForSequenceClassification.from_pretrained(ROOT / "tiny_models" / "bert-tiny", num_labels=2)
    with pytest.raises(ValueError, match="model"):
        lora.export_peft_adapter(model, tmp_path)
