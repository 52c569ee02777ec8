"""Fixtures of the finetuning-methods suite: the tiny models, on both sides.

The submission under test (``lora``), the device, the points and the verdicts' words are every suite's
(``judging/plugin.py``). Each test gets its model from the subject's own builtin (``base_model``: a fresh tiny
classifier, every parameter trainable, as ``from_pretrained`` gives it), never from the submission, and sets up
what trains itself where a part needs a set-up, so that each test judges one function; ``own_model`` is the
judge's own copy, to recompute with.
"""

from ..judging.preamble import import_frozen

import_frozen("transformers.models.bert.modeling_bert", "transformers.models.distilbert.modeling_distilbert")

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
    """``base_model(name)``: a fresh tiny classifier in the subject, every parameter trainable, eval mode."""

    def make(name: str, dtype=None):
        return lora.builtin("model", name, dtype=dtype, device=device.type, keep=True)

    return make


@pytest.fixture
def own_model():
    """``own_model(name)``: the judge's own fresh copy of the same classifier, to recompute with."""

    def make(name: str):
        return pristine.fresh(TINY_MODELS, name, 2).eval()

    return make
