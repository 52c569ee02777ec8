"""The conventions of the assignment this suite judges, read from its pack's spec (``assignment.toml``).

Courses answer some questions differently: whether the low-rank update is scaled by
``alpha / rank`` or by ``alpha``, which attribute holds that factor, whether there is a
dropout, how ``initialize_base_model`` takes the model, how ``add_lora`` names the layers to
wrap and what it wraps by default. Each such answer is data in the spec, read here, never a
constant in a test; a test that only one answer can have (a dropout's draws) is marked
``convention(...)`` and left out of the other packs' runs (``conftest.py``). A grading
workspace and the student bundle carry the spec as ``tests/assignment.toml``; in this
repository, without one, the suite judges the default pack's conventions
(``reference/lora-bert/assignment.toml``), or those of the pack that ``LORA_GRADER_ASSIGNMENT``
names (``LORA_GRADER_ASSIGNMENT=umd-lorabert python -m pytest tests/assignment`` judges
umd-lorabert's reference: an environment variable, because the suite's conventions are read
when its conftest is imported, before pytest has parsed the options conftests add). The grader
checks every spec against its schema; the suite reads it with the standard library alone, since
students run it without the grader.
"""

import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BESIDE = Path(__file__).resolve().parent.parent / "assignment.toml"  # a workspace's or the bundle's
PACKS = Path(__file__).resolve().parents[2] / "reference"  # this repository's: PACKS/NAME/assignment.toml
DEFAULT = "lora-bert"
CHOSEN = "LORA_GRADER_ASSIGNMENT"  # a pack's name, or the path of its assignment.toml
SUFFIXES, BY_PARENT = "suffixes", "children by parent"


@dataclass(frozen=True)
class Conventions:
    module: str  # the module students hand in: lora_bert
    reference: Path  # the pack's reference (in this repository; a bundle has none)
    test_files: tuple[str, ...]  # the suite's files this pack is graded on: its rubric's
    scaling: str  # "alpha / rank" or "alpha"
    scaling_attribute: str  # the LoRALayer attribute that holds the factor
    dropout: bool  # whether LoRALayer, LinearLoRA and add_lora take a dropout
    head: tuple[str, ...]  # the top-level modules of the fresh classification head
    model_argument: str  # initialize_base_model's keyword for the model's folder
    labels_argument: str  # its keyword for the number of labels; "" where it is always 2
    add_lora_arguments: dict  # what the suite gives add_lora where the pack's has no default (rank, alpha)
    targets_argument: str  # add_lora's keyword for the layers to wrap
    targets_syntax: str  # SUFFIXES or BY_PARENT
    default_targets: dict[str, tuple[str, ...]]  # model type -> what add_lora wraps without targets
    models: tuple[str, ...]  # the tiny models the suite loads

    def factor(self, alpha: float, rank: int) -> float:
        """The factor of the low-rank update for ``alpha`` and ``rank``, as this assignment scales it."""
        return alpha / rank if self.scaling == "alpha / rank" else float(alpha)

    def alpha_for(self, factor: float, rank: int) -> float:
        """The ``alpha`` that gives ``factor`` at ``rank``: a test that wants a factor of 1.5 asks for it."""
        return factor * rank if self.scaling == "alpha / rank" else factor

    def matches(self, name: str, entries) -> bool:
        """Whether the layer ``name`` is one that ``entries`` select. Suffixes: a qualified name equal to an entry or
        ending with ``"." + entry`` (peft's rule). Children by parent (``parent.child``): the child of a component
        of a numbered transformer block, ``...layer.<i>.parent.child``."""
        if self.targets_syntax == SUFFIXES:
            return any(name == entry or name.endswith("." + entry) for entry in entries)
        return any(re.search(rf"(^|\.)layer\.\d+\.{re.escape(entry)}$", name) for entry in entries)

    def targets(self, entries) -> dict:
        """The keyword argument that names ``entries`` to add_lora in this pack's syntax: ``target_modules=[...]``,
        or ``modules_to_adapt={"parent": ["child", ...]}``."""
        if self.targets_syntax == SUFFIXES:
            return {self.targets_argument: list(entries)}
        mapping = {}
        for entry in entries:
            parent, _, child = entry.rpartition(".")
            mapping.setdefault(parent, []).append(child)
        return {self.targets_argument: mapping}

    def shown(self, entries) -> str:
        """``target_modules=['query']`` as a student's call would read."""
        ((argument, value),) = self.targets(entries).items()
        return f"{argument}={value}"


def spec_path() -> Path:
    """The spec a workspace or a bundle carries; in this repository, the chosen pack's, else the default's."""
    if BESIDE.is_file():
        return BESIDE
    chosen = os.environ.get(CHOSEN) or DEFAULT
    return Path(chosen) if chosen.endswith(".toml") else PACKS / chosen / "assignment.toml"


@cache
def load(path: Path | None = None) -> Conventions:
    path = path or spec_path()
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    found = spec["conventions"]
    return Conventions(
        module=spec["module"], reference=path.parent / spec["reference"], test_files=tuple(
            dict.fromkeys(group.partition("::")[0] for group in spec["points"])),
        scaling=found["scaling"], scaling_attribute=found["scaling_attribute"], dropout=found["dropout"],
        head=tuple(found["head"]), model_argument=found["initialize"]["model"],
        labels_argument=found["initialize"].get("labels", ""), add_lora_arguments=found.get("add_lora_arguments", {}),
        targets_argument=found["targets"]["argument"], targets_syntax=found["targets"]["syntax"],
        default_targets={kind: tuple(names) for kind, names in found["default_targets"].items()},
        models=tuple(spec["models"]))


def model_type(tiny_models: Path, name: str) -> str:
    """``bert`` for ``bert-tiny``: the ``model_type`` of a tiny model's config."""
    return json.loads((tiny_models / name / "config.json").read_text(encoding="utf-8"))["model_type"]
