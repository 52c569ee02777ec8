"""``python reference/lora-bert/lora_bert.py`` fine-tunes a tiny model and shows it learning."""

import re
import subprocess
import sys

import pytest

from grader.assignments.pack import find
from grader.layout import ROOT

LORA_BERT = find("lora-bert")


@pytest.mark.parametrize("model", ["tiny_models/bert-tiny", "tiny_models/distilbert-tiny"])
def test_training_lowers_the_loss_and_raises_the_accuracy(model):
    run = subprocess.run([sys.executable, "reference/lora-bert/lora_bert.py", "--model", model],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    losses = [float(x) for x in re.findall(r"train loss ([\d.]+)", run.stdout)]
    accuracies = [float(x) for x in re.findall(r"eval accuracy ([\d.]+)", run.stdout)]
    assert len(losses) == 10, run.stdout
    assert re.search(r"[\d,]+ trainable parameters of [\d,]+", run.stdout)
    assert losses[-1] < losses[0] - 0.1, run.stdout
    assert accuracies[-1] >= accuracies[0] + 0.2, run.stdout  # epoch 0 is measured before training


def test_unknown_model_folder_is_a_clear_error():
    run = subprocess.run([sys.executable, "reference/lora-bert/lora_bert.py", "--model", "no/such/folder"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "no/such/folder" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_sanity_compares_the_public_figures(tmp_path):
    run = subprocess.run([sys.executable, "reference/lora-bert/lora_bert.py", "--sanity"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.count(" ok") == 4, run.stdout
    from tests.mutants.mutants import BROKEN

    counting_frozen = next(m for m in BROKEN if m.name == "count_frozen")
    broken = tmp_path / "lora_bert.py"
    broken.write_text(counting_frozen.apply((LORA_BERT.reference).read_text()))
    run = subprocess.run([sys.executable, str(broken), "--sanity"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1 and "DIFFERENT" in run.stdout, run.stdout
