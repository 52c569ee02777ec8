"""The reviews as the training loop takes them, encoded by the suite itself (never by the submission's data set, so
that the loop is judged on its own): the same batches on both sides."""

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..judging import reviews


def loader(model_folder: Path, dataset: Path, split: str, count: int, batch_size: int) -> DataLoader:
    """The first ``count`` reviews of ``split`` (``judging/reviews.py``) in batches, in order."""
    return DataLoader(reviews.examples(model_folder, dataset, split, count), batch_size=batch_size, shuffle=False)


def without_dropout(model):
    """``model`` with every dropout's probability 0: a training step computes the same on both sides."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model
