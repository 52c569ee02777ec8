"""The GPT of the TP3 handout (Raschka, *Build a Large Language Model (From Scratch)*, chapter 4), small.

Its shape is the handout's, so that the students' code finds what it was written for: the
attention's projections and the feed-forward layers are plain ``nn.Linear`` (``W_query``,
``W_key``, ``W_value``, ``out_proj``, ``ff.layers``), the blocks sit in ``trf_blocks``, and the
classifier's head is ``out_head``, replaced by two classes as the handout does for spam.
transformers' GPT-2 uses ``Conv1D`` instead, which the handout's replace function would never
find. The tiny model's weights come from a seeded initialisation: no file, no download.
"""

import csv
from pathlib import Path

import torch
from torch import nn

TINY = {"vocab_size": 257, "context_length": 32, "emb_dim": 16, "n_heads": 2, "n_layers": 2, "drop_rate": 0.0,
        "qkv_bias": False}
GPT2_SMALL = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12, "n_layers": 12,
              "drop_rate": 0.0, "qkv_bias": True}  # the handout's pretrained model, as it loads OpenAI's weights
PAD = 256  # bytes are 0..255: a byte-level tokenizer stands in for tiktoken's, which would need a download
NUM_CLASSES = 2


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float, num_heads: int,
                 qkv_bias: bool = False):
        super().__init__()
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape

        def heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, tokens, self.num_heads, self.head_dim).transpose(1, 2)

        queries, keys, values = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        scores = (queries @ keys.transpose(2, 3)).masked_fill(self.mask.bool()[:tokens, :tokens], -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim**0.5, dim=-1))
        context = (weights @ values).transpose(1, 2).contiguous().view(batch, tokens, self.d_out)
        return self.out_proj(context)


class FeedForward(nn.Module):
    def __init__(self, emb_dim: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(emb_dim, 4 * emb_dim), nn.GELU(approximate="tanh"),
                                    nn.Linear(4 * emb_dim, emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.att = MultiHeadAttention(cfg["emb_dim"], cfg["emb_dim"], cfg["context_length"], cfg["drop_rate"],
                                      cfg["n_heads"], cfg["qkv_bias"])
        self.ff = FeedForward(cfg["emb_dim"])
        self.norm1, self.norm2 = nn.LayerNorm(cfg["emb_dim"]), nn.LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*(TransformerBlock(cfg) for _ in range(cfg["n_layers"])))
        self.final_norm = nn.LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(in_idx.shape[1], device=in_idx.device)
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))
        return self.out_head(self.final_norm(self.trf_blocks(x)))


def classifier(cfg: dict = TINY, seed: int = 0) -> GPTModel:
    """The handout's spam classifier before LoRA: a GPT whose ``out_head`` is a new ``nn.Linear`` to two classes.
    The same weights for the same seed (the pretrained weights' stand-in)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPTModel(cfg)
        model.out_head = nn.Linear(cfg["emb_dim"], NUM_CLASSES)
    return model


def encode(texts: list[str], length: int = TINY["context_length"]) -> torch.Tensor:
    """Byte ids, cut or padded with PAD to ``length``: a batch of shape (len(texts), length)."""
    rows = [list(text.encode("utf-8")[:length]) for text in texts]
    return torch.tensor([row + [PAD] * (length - len(row)) for row in rows], dtype=torch.long)


def last_token_logits(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """The handout's classification: the logits of the last position."""
    return model(input_ids)[:, -1, :]


def messages(path: Path, split: str = "train") -> tuple[list[str], list[int]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == split]
    return [row["text"] for row in rows], [int(row["label"]) for row in rows]
