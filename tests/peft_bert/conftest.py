"""Fixtures of the peft-bert suite: the tiny BERT (TinyBERT's stand-in), on both sides.

The submission under test (``lora``), the device, the points and the verdicts' words are every suite's
(``judging/plugin.py``). Each test gets its model from the subject's own builtin (``base_model``: a fresh tiny
classifier, every parameter trainable, as ``from_pretrained`` gives it), never from the submission, and sets up
what trains itself where a part needs a set-up, so that each test judges one function; ``own_model`` is the
judge's own copy, to recompute with.
"""

import gc
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

gc.disable()  # the imports' objects frozen out of the collector's sight, as in the BERT packs' suite
import peft  # noqa: E402, F401  (the pack's own requirement, imported by the tests anyway)
import pytest  # noqa: E402
import torch  # noqa: E402
import transformers.models.bert.modeling_bert  # noqa: E402, F401  (imported by the tests anyway)
from transformers.utils import logging as hf_logging  # noqa: E402

gc.freeze()
gc.enable()

from ..judging import pristine  # noqa: E402
from ..judging.plugin import (  # noqa: E402, F401  (the fixtures and hooks every suite runs with)
    JUDGE,
    SubjectSide,
    _seeded,
    _suite_settings,
    device,
    judge,
    lora,
    pytest_collection_modifyitems,
    pytest_ignore_collect,
    pytest_report_teststatus,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_terminal_summary,
)
from . import encoding, subject_builtins  # noqa: E402
from .assets import CONVENTIONS, MODEL, TINY_MODELS  # noqa: E402


def pytest_configure(config):
    hf_logging.set_verbosity_error()  # the "newly initialised head" report is expected
    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)  # a tiny model gains nothing from intra-op threads


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
