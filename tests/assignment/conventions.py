"""The conventions of the assignment this suite judges, read from its pack's spec (``assignment.toml``).

Courses answer some questions differently: whether the low-rank update is scaled by
``alpha / rank`` or by ``alpha``, which attribute holds that factor, what the head is
called, what ``add_lora`` wraps by default. Each such answer is data in the spec, read
here, never a constant in a test. A grading workspace and the student bundle carry the
spec as ``tests/assignment.toml``; in this repository, without one, the suite judges the
default pack's conventions (``reference/lora-bert/assignment.toml``). The grader checks
every spec against its schema; the suite reads it with the standard library alone,
since students run it without the grader.
"""

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BESIDE = Path(__file__).resolve().parent.parent / "assignment.toml"  # a workspace's or the bundle's
DEFAULT = Path(__file__).resolve().parents[2] / "reference" / "lora-bert" / "assignment.toml"  # this repository's


@dataclass(frozen=True)
class Conventions:
    module: str  # the module students hand in: lora_bert
    reference: Path  # the pack's reference (in this repository; a bundle has none)
    scaling: str  # "alpha / rank" or "alpha"
    scaling_attribute: str  # the LoRALayer attribute that holds the factor
    head: tuple[str, ...]  # the top-level modules of the fresh classification head
    targets_argument: str  # add_lora's keyword for the layers to wrap
    targets_syntax: str  # "suffixes" or "children by parent"
    default_targets: dict[str, tuple[str, ...]]  # model type -> what add_lora wraps without targets
    models: tuple[str, ...]  # the tiny models the suite loads

    def factor(self, alpha: float, rank: int) -> float:
        """The factor of the low-rank update for ``alpha`` and ``rank``, as this assignment scales it."""
        return alpha / rank if self.scaling == "alpha / rank" else float(alpha)

    def alpha_for(self, factor: float, rank: int) -> float:
        """The ``alpha`` that gives ``factor`` at ``rank``: a test that wants a factor of 1.5 asks for it."""
        return factor * rank if self.scaling == "alpha / rank" else factor


@cache
def load(path: Path | None = None) -> Conventions:
    path = path or (BESIDE if BESIDE.is_file() else DEFAULT)
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    found = spec["conventions"]
    return Conventions(
        module=spec["module"], reference=path.parent / spec["reference"], scaling=found["scaling"],
        scaling_attribute=found["scaling_attribute"], head=tuple(found["head"]),
        targets_argument=found["targets"]["argument"], targets_syntax=found["targets"]["syntax"],
        default_targets={kind: tuple(names) for kind, names in found["default_targets"].items()},
        models=tuple(spec["models"]))


def model_type(tiny_models: Path, name: str) -> str:
    """``bert`` for ``bert-tiny``: the ``model_type`` of a tiny model's config."""
    return json.loads((tiny_models / name / "config.json").read_text(encoding="utf-8"))["model_type"]
