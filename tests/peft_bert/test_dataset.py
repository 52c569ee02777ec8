"""ComplaintDataset: a torch Dataset of len(texts) examples, each the tokenizer's encoding padded or cut to max_len
and its label, as tensors a DataLoader stacks."""

import pytest
import torch

from ..judging import reviews
from ..judging.checks import equal, expect, names
from .assets import DATASET, MODEL, TINY_MODELS

KEYS = ["attention_mask", "input_ids", "labels"]


def made(lora, count=6, max_len=16):
    """``ComplaintDataset`` of the first ``count`` reviews; ``max_len=None``: its default."""
    texts, labels = reviews.read(DATASET, "train", count)
    tokenizer = lora.builtin("tokenizer", keep=True)
    dataset = lora.ComplaintDataset(texts, labels, tokenizer) if max_len is None \
        else lora.ComplaintDataset(texts, labels, tokenizer, max_len)
    return dataset, texts, labels


@pytest.mark.parametrize("max_len", [6, 40, None], ids=["cut", "padded", "default"])
def test_each_example_is_the_encoding_and_the_label(lora, max_len):
    dataset, texts, labels = made(lora, max_len=max_len)
    max_len = max_len or 512
    size = dataset.call("__len__")
    expect(size == len(texts), "len(ComplaintDataset(texts, ...)) is len(texts)", len(texts), size)
    encode = reviews.tokenizer(str(TINY_MODELS / MODEL))
    encoded = encode(texts, padding="max_length", truncation=True, max_length=max_len, return_tensors="pt")
    for index in (0, len(texts) - 1):
        item = dataset.call("__getitem__", index)
        keys = sorted(item) if isinstance(item, dict) else item
        expect(keys == KEYS, f"example {index} is a dict of input_ids, attention_mask and labels", names(KEYS), keys)
        for key, expected in (("input_ids", encoded["input_ids"][index]),
                              ("attention_mask", encoded["attention_mask"][index]),
                              ("labels", torch.tensor(labels[index]))):
            found = item[key]
            expect(isinstance(found, torch.Tensor) and found.dtype == torch.long and equal(found, expected),
                   f"example {index}'s {key}: the tokenizer's encoding of the text padded or cut to max_len={max_len} "
                   "(1-D), and the label (0-D), as torch.long tensors",
                   f"{tuple(expected.shape)} {expected.tolist()}",
                   f"{tuple(found.shape)} {found.dtype} {found.tolist()}" if isinstance(found, torch.Tensor) else found)


def test_a_dataloader_stacks_its_examples(lora):
    dataset, _, labels = made(lora, count=6, max_len=16)
    expect(lora.builtin("is_dataset", dataset), "ComplaintDataset is a torch.utils.data.Dataset", "a Dataset",
           dataset.type)
    batches = lora.builtin("batches", dataset, 4)
    shapes = [tuple(batch["input_ids"].shape) for batch in batches] if isinstance(batches, list) else batches
    expect(shapes == [(4, 16), (2, 16)], "a DataLoader of batch size 4 over 6 examples of max_len 16 gives batches "
           "of input_ids of shapes (4, 16) and (2, 16)", [(4, 16), (2, 16)], shapes)
    found = torch.cat([batch["labels"] for batch in batches]).tolist()
    expect(found == labels, "the batches' labels are the labels, in order", labels, found)
