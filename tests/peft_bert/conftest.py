"""Fixtures of the peft-bert suite: the tiny BERT (TinyBERT's stand-in), on both sides.

The submission under test (``lora``), the device, the points and the verdicts' words are every suite's
(``judging/plugin.py``). Each test gets its model from the subject's own builtin (``base_model``: a fresh tiny
classifier, every parameter trainable, as ``from_pretrained`` gives it), never from the submission, and sets up
what trains itself where a part needs a set-up, so that each test judges one function; ``own_model`` is the
judge's own copy, to recompute with.
"""

from ..judging.preamble import import_frozen

import_frozen("transformers.models.bert.modeling_bert", "peft")

import pytest  # noqa: E402

from ..judging import pristine  # noqa: E402
from ..judging.plugin import *  # noqa: E402, F403  (the fixtures and hooks every suite runs with: its __all__)
from ..judging.plugin import SubjectSide  # noqa: E402
from . import encoding, subject_builtins  # noqa: E402
from .assets import CONVENTIONS, MODEL, TINY_MODELS  # noqa: E402


@pytest.fixture(scope="session")
def subject_side() -> SubjectSide:
    return SubjectSide(CONVENTIONS, TINY_MODELS, subject_builtins.BUILTINS)


@pytest.fixture
def base_model(lora, device):
    """``base_model(num_labels=2, dropout=True)``: a fresh tiny BERT classifier in the subject, everything
    trainable, eval mode; without dropout where a training step is compared with the judge's own."""

    def make(num_labels: int = 2, dropout: bool = True):
        return lora.builtin("model", num_labels=num_labels, dropout=dropout, device=device.type, keep=True)

    return make


@pytest.fixture
def own_model():
    """``own_model(num_labels=2, dropout=True)``: the judge's own fresh copy of the same classifier."""

    def make(num_labels: int = 2, dropout: bool = True):
        made = pristine.fresh(TINY_MODELS, MODEL, num_labels).eval()
        return made if dropout else encoding.without_dropout(made)

    return make
