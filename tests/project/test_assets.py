"""The shipped tiny models and data set: reproducible from their scripts, small, loadable offline."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from grader import layout
from grader.layout import ROOT

MODELS = ("bert-tiny", "distilbert-tiny")


def run_script(script: str, out: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / script), "--out", str(out)], check=True, capture_output=True)


DATASETS = {"reviews.csv": "data/make_dataset.py", "sms_spam.csv": "data/make_spam.py"}


@pytest.mark.parametrize("table", DATASETS)
def test_dataset_script_reproduces_the_shipped_bytes(tmp_path, table):
    run_script(DATASETS[table], tmp_path / table)
    shipped = ROOT / "data" / table
    assert (tmp_path / table).read_bytes() == shipped.read_bytes(), \
        f"data/{table} differs from what {DATASETS[table]} writes: run the script and commit"


@pytest.mark.parametrize("table", DATASETS)
def test_dataset_is_small_balanced_and_split_without_overlap(table):
    with open(ROOT / "data" / table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = {split: {r["text"] for r in rows if r["split"] == split} for split in ("train", "test")}
    labels = [r["label"] for r in rows]
    assert 200 <= len(rows) <= 1000
    assert set(labels) == {"0", "1"} and labels.count("0") == labels.count("1")
    assert len(texts["train"]) + len(texts["test"]) == len(rows), "duplicate texts"
    assert not texts["train"] & texts["test"], "a text is in both splits"


@pytest.mark.parametrize("name, negatives", [("reviews.csv", 1 / 2), ("reviews-unbalanced.csv", 4 / 5)])
def test_the_held_out_reviews_are_new_and_stay_out_of_the_bundle(tmp_path, name, negatives):
    """Students' adapters are scored on them: reviews of neither split (nor of the other held-out file), balanced
    or one positive in five, which the script reproduces, and which nothing a student receives holds (the bundle
    and a workspace take data/*.csv)."""
    run_script("data/make_dataset.py", tmp_path / "reviews.csv")
    shipped = ROOT / "data" / "heldout" / name
    assert (tmp_path / "heldout" / name).read_bytes() == shipped.read_bytes()
    with open(shipped, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seen = set()
    for other in (ROOT / "data" / "reviews.csv", *(path for path in shipped.parent.glob("*.csv") if path != shipped)):
        with open(other, newline="", encoding="utf-8") as f:
            seen |= {row["text"] for row in csv.DictReader(f)}
    assert {row["split"] for row in rows} == {"public", "private"} and not {row["text"] for row in rows} & seen
    for split in ("public", "private"):
        labels = [row["label"] for row in rows if row["split"] == split]
        assert labels.count("0") == len(labels) * negatives
    layout.copy_models_and_data(tmp_path / "bundle")
    given = set()
    for path in (tmp_path / "bundle").rglob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            given |= {row.get("text") for row in csv.DictReader(f)}
    assert not {row["text"] for row in rows} & given


def test_model_script_reproduces_the_shipped_bytes(tmp_path):
    run_script("tiny_models/make_tiny_models.py", tmp_path)
    for name in MODELS:
        shipped = ROOT / "tiny_models" / name
        files = sorted(p.name for p in shipped.iterdir())
        assert files == sorted(p.name for p in (tmp_path / name).iterdir())
        for file in files:
            assert (tmp_path / name / file).read_bytes() == (shipped / file).read_bytes(), \
                f"tiny_models/{name}/{file} differs from what make_tiny_models.py writes"


@pytest.mark.parametrize("name", MODELS)
def test_tiny_model_is_small_and_loads_offline_with_a_fresh_head(name):
    folder = ROOT / "tiny_models" / name
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 512 * 1024, f"{name} is {size} bytes"
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=5, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    batch = tokenizer(["the plot was gripping ."], return_tensors="pt", return_token_type_ids=False)
    assert tokenizer.unk_token_id not in batch["input_ids"][0].tolist()
    with torch.no_grad():
        assert model(**batch).logits.shape == (1, 5)
