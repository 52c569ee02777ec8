"""Fixtures of the BERT packs' suite (lora-bert, umd-lorabert): the tiny models, on both sides.

The submission under test (``lora``), the device, the points and the verdicts' words are every suite's
(``judging/plugin.py``). Each test here gets its base models from the subject's own builtin (not from the
submission's ``initialize_base_model``), so that each test judges one function of the contract and a bug in
one function does not fail the tests of the others; ``own_model`` is the judge's own copy of a tiny model,
to recompute with.
"""

from ..judging.preamble import import_frozen

import_frozen("transformers.models.bert.modeling_bert", "transformers.models.distilbert.modeling_distilbert",
              "transformers.models.auto.modeling_auto")  # what pristine.py reads with

import pytest  # noqa: E402

from ..judging import pristine  # noqa: E402
from ..judging.plugin import *  # noqa: E402, F403  (the fixtures and hooks every suite runs with: its __all__)
from ..judging.plugin import SubjectSide  # noqa: E402
from . import subject_builtins  # noqa: E402
from .assets import CONVENTIONS, TINY_MODELS  # noqa: E402


@pytest.fixture(scope="session")
def subject_side() -> SubjectSide:
    return SubjectSide(CONVENTIONS, TINY_MODELS, subject_builtins.BUILTINS)


@pytest.fixture
def base_model(lora, device):
    """``base_model(name, num_labels=2)``: a fresh tiny model in the subject, body frozen, head trainable, eval."""

    def make(name: str, num_labels: int = 2, dtype=None):
        return lora.model(name, num_labels=num_labels, dtype=dtype, device=device.type)

    return make


@pytest.fixture
def own_model():
    """``own_model(name, num_labels=2)``: the judge's own fresh copy of a tiny model, to recompute with (never the
    subject's)."""

    def make(name: str, num_labels: int = 2):
        return pristine.fresh(TINY_MODELS, name, num_labels).eval()

    return make
