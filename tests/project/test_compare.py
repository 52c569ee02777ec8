"""``python reference/lora-bert/lora_bert.py compare``: fine-tuning methods side by side, reduced to three set-ups
here."""

import csv
import sys
from pathlib import Path

from grader.assignments.pack import find
from grader.layout import ROOT
from tests.judging.submission import load_submission

LORA_BERT = find("lora-bert")

SETUPS = ["head only", "top 1 layer", "LoRA r=8, default targets"]


def reference():
    return load_submission(LORA_BERT.reference).module


def run(lora):
    return lora.compare(str(ROOT / "tiny_models" / "distilbert-tiny"), str(ROOT / "data" / "reviews.csv"),
                        epochs=3, only=SETUPS)


def test_comparison_rows_are_deterministic_and_count_what_trains(tmp_path):
    lora = reference()
    first, second = run(lora), run(lora)
    assert [row["set-up"] for row in first] == SETUPS
    without_time = [{k: v for k, v in row.items() if k != "seconds"} for row in first]
    assert without_time == [{k: v for k, v in row.items() if k != "seconds"} for row in second]
    head, top, lora_row = first
    assert head["trainable"] < lora_row["trainable"] < top["trainable"]
    assert lora_row["trainable"] == head["trainable"] + 3 * 2 * 8 * (48 + 48)  # 3 layers, q_lin and v_lin, r=8
    assert lora_row["eval accuracy"] > head["eval accuracy"]


def test_writes_csv_markdown_and_a_plot(tmp_path):
    lora = reference()
    written = lora.write_comparison(run(lora), str(tmp_path))
    assert [Path(p).name for p in written] == ["comparison.csv", "comparison.md", "comparison.png"]
    with open(tmp_path / "comparison.csv") as f:
        assert [row["set-up"] for row in csv.DictReader(f)] == SETUPS
    assert "| LoRA r=8, default targets |" in (tmp_path / "comparison.md").read_text()
    assert (tmp_path / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_table_still_comes_out(tmp_path, monkeypatch):
    lora = reference()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    written = lora.write_comparison(run(lora)[:1], str(tmp_path))
    assert [Path(p).name for p in written] == ["comparison.csv", "comparison.md"]
