"""The conventions of the assignment this suite judges, read from its pack's spec (``assignment.toml``).

Courses answer some questions differently: whether the low-rank update is scaled by
``alpha / rank`` or by ``alpha``, which attribute holds that factor, whether there is a
dropout, how ``initialize_base_model`` takes the model, how ``add_lora`` names the layers to
wrap and what it wraps by default. Each such answer is data in the spec, read here, never a
constant in a test; a test that only one answer can have (a dropout's draws) is marked
``convention(...)`` and left out of the other packs' runs (``plugin.py``). A grading
workspace and the student bundle carry the spec as ``tests/assignment.toml``; in this
repository, without one, the suite judges the default pack's conventions
(``reference/lora-bert/assignment.toml``), or those of the pack that ``LORA_GRADER_ASSIGNMENT``
names (``LORA_GRADER_ASSIGNMENT=umd-lorabert python -m pytest tests/assignment`` judges
umd-lorabert's reference: an environment variable, because the suite's conventions are read
when its conftest is imported, before pytest has parsed the options conftests add); a suite that
only one pack uses (``tests/lora_from_scratch``) judges that pack's. The grader
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
    figures: dict[str, int]  # what any correct solution reproduces (the handout's counts), by description

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


def spec_path(suite: Path | None = None) -> Path:
    """The spec a workspace or a bundle carries; in this repository, the chosen pack's where it is graded by
    ``suite`` (a suite's folder), else the default's, else the one pack ``suite`` grades."""
    if BESIDE.is_file():
        return BESIDE
    chosen = os.environ.get(CHOSEN) or DEFAULT
    path = Path(chosen) if chosen.endswith(".toml") else PACKS / chosen / "assignment.toml"
    if suite is None or _suite_of(path) == suite.resolve():
        return path
    default = PACKS / DEFAULT / "assignment.toml"
    if _suite_of(default) == suite.resolve():
        return default
    graded_by = [spec for spec in sorted(PACKS.glob("*/assignment.toml")) if _suite_of(spec) == suite.resolve()]
    if not graded_by:
        raise FileNotFoundError(f"no pack under {PACKS} is graded by the suite in {suite}")
    return graded_by[0]


@cache  # a spec is read once per process: the hooks ask for each file and each marked test
def _suite_of(spec: Path) -> Path:
    with open(spec, "rb") as f:
        return (PACKS.parent / tomllib.load(f)["suite"]).resolve()


def for_suite(suite: Path) -> "Conventions":
    """The conventions the suite in the folder ``suite`` judges (in this repository, two suites may run in one
    pytest process: each reads its own pack's)."""
    return load(spec_path(suite))


@cache
def load(path: Path | None = None) -> Conventions:
    path = path or spec_path()
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    found = spec["conventions"]
    initialize, targets = found.get("initialize", {}), found.get("targets", {})  # the parts a pack may not have
    return Conventions(
        module=spec["module"], reference=path.parent / spec["reference"], test_files=tuple(
            dict.fromkeys(group.partition("::")[0] for group in spec["points"])),
        scaling=found["scaling"], scaling_attribute=found["scaling_attribute"], dropout=found["dropout"],
        head=tuple(found["head"]), model_argument=initialize.get("model", ""),
        labels_argument=initialize.get("labels", ""), add_lora_arguments=found.get("add_lora_arguments", {}),
        targets_argument=targets.get("argument", ""), targets_syntax=targets.get("syntax", ""),
        default_targets={kind: tuple(names) for kind, names in found.get("default_targets", {}).items()},
        models=tuple(spec["models"]), figures=dict(spec.get("figures", {})))


def model_type(tiny_models: Path, name: str) -> str:
    """``bert`` for ``bert-tiny``: the ``model_type`` of a tiny model's config."""
    return json.loads((tiny_models / name / "config.json").read_text(encoding="utf-8"))["model_type"]
