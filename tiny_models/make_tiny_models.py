"""Write the tiny BERT and DistilBERT checkpoints in ``tiny_models/``.

Each folder looks like a real pretrained checkpoint: the encoder body only (no
classification head, so ``AutoModelForSequenceClassification.from_pretrained(path,
num_labels=k)`` builds a fresh head for any k), a WordPiece vocabulary and a
tokenizer config. The weights are random: the models know nothing of English,
they exist so that the assignment's tests and training run offline in seconds.

Determinism: the config is a fixed dictionary, the vocabulary comes from
``data/reviews.csv``, and every tensor is drawn from one seeded generator in a
fixed order (independent of how transformers initialises models), so running the
script again reproduces the same bytes; ``tests/project`` checks that.

    python tiny_models/make_tiny_models.py             # rewrites tiny_models/*
    python tiny_models/make_tiny_models.py --out DIR   # writes elsewhere
"""

import argparse
import csv
import json
import re
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModel

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "data" / "reviews.csv"
SEED = 0
INIT_STD = 0.02  # as BERT's initializer_range; larger values learn worse through the frozen body
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Deliberately different shapes, so that code which hard-codes one model's sizes fails on the other.
CONFIGS = {
    "bert-tiny": {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": 32,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
    },
    "distilbert-tiny": {
        "architectures": ["DistilBertModel"],
        "model_type": "distilbert",
        "dim": 48,
        "n_layers": 3,
        "n_heads": 3,
        "hidden_dim": 96,
        "max_position_embeddings": 64,
    },
}
TOKENIZER_CLASSES = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}


def build_vocab(dataset: Path = DATASET) -> list[str]:
    """Special tokens, then every word and punctuation mark of the dataset, sorted."""
    with open(dataset, newline="", encoding="utf-8") as f:
        texts = [row["text"].lower() for row in csv.DictReader(f)]
    words = {token for text in texts for token in re.findall(r"\w+|[^\w\s]", text)}
    return SPECIAL_TOKENS + sorted(words)


def random_weights(config: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The body's state dict, filled in sorted key order from ``generator``."""
    with torch.device("meta"):
        body = AutoModel.from_config(AutoConfig.for_model(**config))
    shapes = {name: tensor.shape for name, tensor in body.state_dict().items()}
    weights = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name.lower().endswith("norm.weight"):
            weights[name] = torch.ones(shape)
        elif name.endswith("bias"):
            weights[name] = 0.02 * torch.randn(shape, generator=generator)
        else:
            weights[name] = INIT_STD * torch.randn(shape, generator=generator)
    return weights


def write_model(folder: Path, config: dict, vocab: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {**config, "vocab_size": len(vocab), "pad_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer_config = {
        "tokenizer_class": TOKENIZER_CLASSES[config["model_type"]],
        "do_lower_case": True,
        "model_max_length": config["max_position_embeddings"],
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2, sort_keys=True) + "\n")
    generator = torch.Generator().manual_seed(SEED)
    save_file(random_weights(config, generator), folder / "model.safetensors", metadata={"format": "pt"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    vocab = build_vocab()
    for name, config in CONFIGS.items():
        write_model(args.out / name, config, vocab)
        size = sum(f.stat().st_size for f in (args.out / name).iterdir())
        print(f"wrote {args.out / name} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
