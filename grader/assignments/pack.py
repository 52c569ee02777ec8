"""One assignment, whole: its spec (``reference/NAME/assignment.toml``) and the files it names.

Each course brings its own LoRA assignment: other names, another scaling, another way of
naming the layers to wrap. The harness names none of them; it reads a pack. A pack's spec
lies in ``reference/NAME/`` beside its reference and contract; its template, examples and
suite lie where the spec says, under the repository root, so that ``reference/``,
``student_template/`` and ``examples/`` each hold a folder per pack. The spec is checked
against ``assignment.schema.json``, which this project publishes, as PrairieLearn checks
its ``info.json`` files against its schemas: a typo in a course's file is an error that
names the field, not a grade computed from a default.
"""

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import jsonschema
from packaging.requirements import Requirement  # pip's own parser of requirement strings

from grader import layout

SPEC = "assignment.toml"
SPEC_IN_SUITE = SPEC  # under a workspace's or a bundle's tests/, where the suite reads its conventions
SCHEMA = Path(__file__).with_name("assignment.schema.json")
PACKS = layout.ROOT / "reference"  # reference/NAME/assignment.toml
DEFAULT = "lora-bert"


class PackError(ValueError):
    """An assignment that cannot be found or whose spec is not valid."""


@dataclass(frozen=True)
class Pack:
    folder: Path  # where assignment.toml lies
    spec: dict  # assignment.toml, valid against the schema

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def title(self) -> str:
        return self.spec["title"]

    @property
    def module(self) -> str:
        """The module students hand in, without suffix (``lora_bert``)."""
        return self.spec["module"]

    @property
    def file_names(self) -> tuple[str, ...]:
        """What a submission's module may be called, the Python file first."""
        return tuple(f"{self.module}.{suffix}" for suffix in ("py", "ipynb") if suffix in self.spec["formats"])

    @property
    def suffixes(self) -> tuple[str, ...]:
        """What a submission's file may end with, by the spec's ``formats`` (``.py``, ``.ipynb``, ``.zip``)."""
        return tuple(f".{suffix}" for suffix in self.spec["formats"])

    @property
    def spec_file(self) -> Path:
        return self.folder / SPEC

    @property
    def spec_in_checkout(self) -> str:
        """The spec's path from the repository root, as a bundle that copies the checkout's layout holds it."""
        return self.spec_file.relative_to(layout.ROOT).as_posix()

    @property
    def reference(self) -> Path:
        return self.folder / self.spec["reference"]

    @property
    def contract(self) -> Path:
        return self.folder / self.spec["contract"]

    @property
    def suite(self) -> Path:
        return layout.ROOT / self.spec["suite"]

    @property
    def template(self) -> Path:
        return layout.ROOT / self.spec["template"]

    @property
    def examples(self) -> Path:
        return layout.ROOT / self.spec["examples"]

    @property
    def mutants(self) -> Path | None:
        """The module that lists the pack's mutants (tests/mutants/...), if it has one."""
        return layout.ROOT / self.spec["mutants"] if "mutants" in self.spec else None

    @property
    def clauses(self) -> Path | None:
        """The pack's clause table (a Markdown file of the project's tests), if it has one."""
        return layout.ROOT / self.spec["clauses"] if "clauses" in self.spec else None

    @property
    def points(self) -> dict[str, float]:
        """The default rubric: group -> points."""
        return dict(self.spec["points"])

    @property
    def conventions(self) -> dict:
        return self.spec["conventions"]

    @property
    def requires(self) -> tuple[str, ...]:
        """What the pack needs installed beyond the grader's own dependencies (pip requirement strings)."""
        return tuple(self.spec.get("requires", ()))

    @property
    def adapter(self) -> dict | None:
        """How students' adapters are scored (the spec's ``[adapter]``), if they are."""
        return self.spec.get("adapter")

    def missing(self) -> list[str]:
        """Those of ``requires`` this environment lacks, or has in a version the requirement excludes."""
        return [requirement for requirement in self.requires if not installed(requirement)]


def installed(requirement: str) -> bool:
    """Whether a distribution satisfying the pip requirement string ``requirement`` is installed here."""
    wanted = Requirement(requirement)
    try:
        return wanted.specifier.contains(metadata.version(wanted.name), prereleases=True)
    except metadata.PackageNotFoundError:
        return False


def load(spec_file: Path) -> Pack:
    """The pack whose spec is ``spec_file``, checked against the schema and against the files it names."""
    try:
        with open(spec_file, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PackError(f"{spec_file}: not an assignment spec ({error})") from None
    errors = sorted(validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
    if errors:
        raise PackError(f"{spec_file}: " + "; ".join(describe(error) for error in errors))
    pack = Pack(spec_file.parent, spec)
    if not pack.suite.is_dir():  # the reference may be absent: a grading bundle leaves it out
        raise PackError(f"{spec_file}: no suite at {pack.suite}")
    return pack


def describe(error: jsonschema.ValidationError) -> str:
    """``conventions.scaling: 'alpha*2' is not one of ['alpha / rank', 'alpha']``."""
    where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


@cache
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def available() -> list[Pack]:
    """Every pack of this checkout, by name."""
    return [load(spec) for spec in sorted(PACKS.glob(f"*/{SPEC}"))]


def find(name_or_path: str | Path = DEFAULT) -> Pack:
    """A pack by name (``umd-lorabert``), or by the path of its spec or of its folder."""
    path = Path(name_or_path)
    if path.is_dir():
        path = path / SPEC
    if path.is_file():
        return load(path)
    spec = PACKS / str(name_or_path) / SPEC
    if "/" not in str(name_or_path) and spec.is_file():
        return load(spec)
    names = sorted(spec.parent.name for spec in PACKS.glob(f"*/{SPEC}"))
    raise PackError(f"no assignment {str(name_or_path)!r}: not a pack's folder or spec, nor one of {', '.join(names)}")
