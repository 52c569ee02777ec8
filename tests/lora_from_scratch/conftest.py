"""Fixtures of the lora-from-scratch suite: the handout's GPT, tiny, on both sides.

The submission under test (``lora``), the device, the points and the verdicts' words are every suite's
(``judging/plugin.py``). Each test gets its model from the subject's own builtin (``base_model``: the tiny
GPT spam classifier, fresh, every parameter trainable as the handout builds it), never from the
submission, so that each test judges one function; ``own_model`` is the judge's own copy, to recompute with.
"""

import pytest

from ..judging.plugin import *  # noqa: F403  (the fixtures and hooks every suite runs with: its __all__)
from ..judging.plugin import SubjectSide
from . import gpt, subject_builtins
from .assets import CONVENTIONS, TINY_MODELS


@pytest.fixture(scope="session")
def subject_side() -> SubjectSide:
    return SubjectSide(CONVENTIONS, TINY_MODELS, subject_builtins.BUILTINS)


@pytest.fixture
def base_model(lora, device):
    """``base_model()``: a fresh tiny GPT spam classifier in the subject, every parameter trainable, eval mode."""

    def make(dtype=None):
        return lora.builtin("model", dtype=dtype, device=device.type, keep=True)

    return make


@pytest.fixture
def own_model():
    """The judge's own fresh copy of the same classifier, to recompute with (never the subject's)."""
    return gpt.classifier().eval()
