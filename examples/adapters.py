"""The example adapters, made the way students make theirs: the tests rank, score and refuse them
(``tests/grader/test_adapters.py``), and ``bench/run.py`` measures their scores for the docs, so the two
never describe different adapters.

- lora-bert: the reference's LoRA on bert-tiny exported before training (``untrained``: B = 0, the base
  model's own predictions) and after its own ``train`` (``trained``: six epochs, lr 2e-2, seed 0, the pack's
  ``[adapter] baseline``), and the trained one with its head's rows swapped (``worse``);
- peft-bert: its ``apply_lora`` through peft, six epochs of its ``train_epoch``, saved by peft
  (``trained``, the pack's baseline), and that adapter with a head that says "negative" to everything
  (``majority``).

Nothing is downloaded: the models are ``tiny_models/``, the reviews ``data/reviews.csv``.
"""

import csv
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "tiny_models" / "bert-tiny"
WEIGHTS = "adapter_model.safetensors"  # grader.adapters.reading.WEIGHTS, peft's own file name
HEAD = ("base_model.model.classifier.weight", "base_model.model.classifier.bias")


def load(name: str, path: Path) -> ModuleType:
    """A pack's reference, by its path (as tests/module_file.py does: this file is read by bench/ too, which imports
    nothing of tests/)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base_model():
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=2)


def reference_adapters(root: Path) -> tuple[list, float]:
    """``root/untrained`` and ``root/trained``; the test split's batches and the reference's own ``evaluate`` of
    the trained model on them."""
    torch.manual_seed(0)
    reference = load("lora_bert_for_adapters", ROOT / "reference" / "lora-bert" / "lora_bert.py")
    examples = reference.load_reviews(str(ROOT / "data" / "reviews.csv"))
    torch.manual_seed(0)
    model, tokenizer = reference.initialize_base_model(str(MODEL), num_labels=2)
    reference.add_lora(model)
    reference.export_peft_adapter(model, str(root / "untrained"))
    reference.train(model, reference.make_batches(tokenizer, examples["train"], batch_size=16), epochs=6, lr=2e-2,
                    progress=False)
    reference.export_peft_adapter(model, str(root / "trained"))
    test = reference.make_batches(tokenizer, examples["test"], batch_size=16)
    return test, reference.evaluate(model, test, "cpu")


def worse(trained: Path, folder: Path) -> Path:
    """The trained adapter with its classifier's rows swapped: it predicts each review's other label."""
    shutil.copytree(trained, folder)
    tensors = load_file(trained / WEIGHTS)
    for name in HEAD:
        tensors[name] = tensors[name].flip(0).contiguous()
    save_file(tensors, folder / WEIGHTS)
    return folder


def peft_adapters(root: Path) -> Path:
    """``root/trained`` and ``root/majority``, peft-bert's (its pack needs peft)."""
    from torch.utils.data import DataLoader
    from transformers import AutoTokenizer

    peft_bert = load("peft_bert_for_adapters", ROOT / "reference" / "peft-bert" / "peft_bert.py")
    model = peft_bert.apply_lora(base_model(), peft_bert.make_lora_config(8, 16, 0.0))
    with open(ROOT / "data" / "reviews.csv", newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "train"]
    reviews = peft_bert.ComplaintDataset([row["text"] for row in rows], [int(row["label"]) for row in rows],
                                         AutoTokenizer.from_pretrained(MODEL), max_len=32)
    loader = DataLoader(reviews, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    for _ in range(6):
        peft_bert.train_epoch(model, loader, optimizer, "cpu")
    model.save_pretrained(root / "trained")
    shutil.copytree(root / "trained", root / "majority")
    tensors = load_file(root / "majority" / WEIGHTS)
    tensors[HEAD[0]] = torch.zeros_like(tensors[HEAD[0]])
    tensors[HEAD[1]] = torch.tensor([1.0, -1.0])
    save_file(tensors, root / "majority" / WEIGHTS)
    return root
