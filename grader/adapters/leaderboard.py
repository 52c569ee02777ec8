"""A class's adapters scored on the pack's held-out data, in the grader's own process, before any code is graded.

Each submission that is a folder may hold the pack's adapter folder (``[adapter] folder`` in its spec: peft's
``adapter_config.json`` and ``adapter_model.safetensors``) beside its module. ``reading.read`` takes it as data
(nothing in it runs), ``Scorer`` folds it into the one copy of the base model, and the held-out reviews
(``[adapter] data``: split ``public``, shown at submission, and ``private``, shown with ``grade --private``, as
Kaggle keeps its private leaderboard to the end) are classified once per adapter. A bad adapter is a sentence
for its student and costs nothing else; a submission without the folder has no entry at all.
"""

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from grader import layout
from grader.adapters import reading
from grader.adapters.reading import AdapterError
from grader.adapters.scoring import Scorer
from grader.grading.outputs import csv_text

SPLITS = ("public", "private")
BATCH = 32
CSV = "leaderboard.csv"


@dataclass(frozen=True)
class AdapterScore:
    """One submission's adapter: its metric on each held-out split, or why it was not scored."""

    metric: str
    public: float | None = None
    private: float | None = None  # None unless asked for (grade --private)
    trainable: int | None = None  # the parameters it trains: its LoRA matrices and saved head
    problem: str | None = None  # why it was not scored, for the student

    def sentence(self, folder: str) -> str:
        if self.problem:
            return f"Your adapter (`{folder}/`) was not scored: {self.problem}. Nothing else of your grade changes."
        private = f"; {self.private:.3f} on the private one" if self.private is not None else ""
        return (f"Your adapter (`{folder}/`, {self.trainable:,} trained parameters): {self.metric} {self.public:.3f} "
                f"on the public held-out reviews{private}.")

    def leaderboard(self) -> list[dict]:
        """Gradescope's ``leaderboard`` entries (``name``, ``value``, ``order``) of a scored adapter."""
        if self.problem:
            return []
        entries = [{"name": f"{self.metric} (public)", "value": rounded(self.public), "order": "desc"}]
        if self.private is not None:
            entries.append({"name": f"{self.metric} (private)", "value": rounded(self.private), "order": "desc"})
        return entries

    def to_json(self) -> dict:
        return asdict(self)


def metric_of(name: str, predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> float:
    """Accuracy, or macro-F1 (the mean over classes of 2 TP / (2 TP + FP + FN)) where classes are unbalanced."""
    if name == "accuracy":
        return float((predicted == labels).float().mean())
    scores = []
    for label in range(classes):
        true_positive = int(((predicted == label) & (labels == label)).sum())
        wrong = int(((predicted == label) != (labels == label)).sum())
        scores.append(2 * true_positive / (2 * true_positive + wrong) if true_positive + wrong else 1.0)
    return sum(scores) / classes


class Board:
    """``Board(spec).score(folder)``: the base model, its tokenizer and the held-out reviews, read once."""

    def __init__(self, spec: dict, private: bool = False):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.spec, self.private = spec, private
        self.metric = spec.get("metric", "accuracy")
        model = layout.TINY_MODELS / spec["model"]
        if not model.is_dir():
            model = Path(spec["model"])
        torch.manual_seed(0)  # the head a missing one falls back to, the same every run
        self.base = AutoModelForSequenceClassification.from_pretrained(model, num_labels=spec["labels"])
        tokenizer = AutoTokenizer.from_pretrained(model)
        with open(layout.ROOT / spec["data"], newline="", encoding="utf-8") as f:
            rows = [row for row in csv.DictReader(f) if row["split"] in SPLITS]
        self.splits = [row["split"] for row in rows]
        batches = []
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            encoded = tokenizer([row["text"] for row in chunk], padding=True, truncation=True, max_length=128,
                                return_tensors="pt")
            batches.append({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                            "labels": torch.tensor([int(row["label"]) for row in chunk])})
        self.labels = torch.cat([batch["labels"] for batch in batches])
        self.scorer = Scorer(self.base, batches)

    def score(self, folder: Path) -> AdapterScore:
        try:
            adapter = reading.read(folder, self.base, self.spec.get("max_megabytes", 64))
            predicted = self.scorer.logits(adapter).argmax(dim=-1)
        except AdapterError as error:
            return AdapterScore(self.metric, problem=str(error))
        found = {}
        for split in SPLITS:
            mask = torch.tensor([s == split for s in self.splits])
            found[split] = metric_of(self.metric, predicted[mask], self.labels[mask], self.spec["labels"])
        trained = sum(a.numel() + b.numel() for a, b in adapter.updates.values())
        trained += sum(tensor.numel() for tensor in adapter.saved.values())
        return AdapterScore(self.metric, found["public"], found["private"] if self.private else None, trained)


def score_class(folders: dict[str, Path], spec: dict, private: bool = False) -> dict[str, AdapterScore]:
    """Each adapter of ``folders`` (submission name -> its folder: ``folders.of_class``), the base model read once."""
    if not folders:
        return {}
    board = Board(spec, private)
    return {name: board.score(folder) for name, folder in folders.items()}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def leaderboard_csv(scores: dict[str, AdapterScore], pseudonyms: dict[str, str] | None = None) -> str:
    """``leaderboard.csv``: rank, name (the student's pseudonym where ``pseudonyms`` gives one, else the
    submission's), the metric on each split shown, trained parameters; best first, then the adapters that were not
    scored, with why."""
    ranked = sorted(scores.items(), key=lambda item: (item[1].problem is not None, -(item[1].public or 0), item[0]))
    rows = [[rank if score.problem is None else "", (pseudonyms or {}).get(name, name), score.metric,
             rounded(score.public), rounded(score.private), score.trainable, score.problem or ""]
            for rank, (name, score) in enumerate(ranked, start=1)]
    return csv_text(["rank", "name", "metric", "public", "private", "trained_parameters", "problem"], rows)
