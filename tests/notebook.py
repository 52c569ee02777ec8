"""``check()``: the public tests on what a running notebook (or module) defines, with the points.

A student in Jupyter or Colab checks their work without saving the notebook or leaving
it: the suite runs inside the kernel, where torch is imported already, on a module made
of the notebook's namespace. The points come out as a table: HTML in a notebook, text
in a terminal. Nothing here is a second copy of a test: it is the suite, run by
``pytest.main`` with one plugin that hands it the module.
"""

import contextlib
import html
import sys
import types
from pathlib import Path

import pytest

from .judging import points
from .judging.conventions import load

SUITE = Path(__file__).resolve().parent / "assignment"


class KernelSubmission:
    """A pytest plugin: the submission is a module already in memory; and the tally of what passed."""

    def __init__(self, module: types.ModuleType):
        self.__name__ = "lora_bert_kernel"  # the name pytest registers it under; the suite's conftest asks for it
        self.module = module
        self.tally = points.Tally()

    def pytest_runtest_logreport(self, report):
        self.tally.record_report(report)


def part_files() -> dict[str, str]:
    """Every name a part answers to (``LoRALayer``, ``lora_layer``, ``test_lora_layer.py``) -> its test file."""
    return {name: path.name for path in sorted(SUITE.glob("test_*.py"))
            for name in (points.part_title(path), path.stem.removeprefix("test_"), path.stem, path.name)}


def check(namespace: dict, part: str | None = None) -> None:
    """Run the public tests (of one part, such as ``"LoRALayer"``) on the names in ``namespace``."""
    rubric = points.Points.load()
    target = SUITE
    if part is not None:
        files = part_files()
        if part not in files:
            raise ValueError(f"no part {part!r}; the parts are: {', '.join(dict.fromkeys(files.values()))}")
        target = SUITE / files[part]
    module = types.ModuleType(load().module)
    module.__dict__.update({name: value for name, value in namespace.items() if not name.startswith("__")})
    plugin = KernelSubmission(module)
    with _this_module_as(module):
        pytest.main([str(target), "-q", "-p", "no:cacheprovider", "--capture=sys", "--tb=short", "-W", "ignore"],
                    plugins=[plugin])
    if rubric is None:
        passed = sum(plugin.tally.passed.values())
        print(f"{passed} of {len(plugin.tally.passed)} tests passed (no tests/points.json here: no points)")
    else:
        show(points.table(plugin.tally, rubric), plugin.tally.rows(rubric))


@contextlib.contextmanager
def _this_module_as(module: types.ModuleType):
    """The pack's module (``lora_bert``) in sys.modules while the tests run (dataclasses and pickle look their
    module up there)."""
    before = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        if before is None:
            sys.modules.pop(module.__name__, None)
        else:
            sys.modules[module.__name__] = before


def show(lines: list[str], rows: list[tuple[str, float, float]]) -> None:
    """A table in a notebook (Jupyter, Colab), text anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or getattr(get_ipython(), "kernel", None) is None:
        print("\n".join(lines))
        return
    cells = "".join(f"<tr><td>{html.escape(part)}</td><td style='text-align:right'>{got:.1f} / {of:.1f}</td></tr>"
                    for part, got, of in rows)
    total = (sum(row[1] for row in rows), sum(row[2] for row in rows))
    display(HTML(f"<table><tr><th>part</th><th>points</th></tr>{cells}"
                 f"<tr><th>public tests</th><th style='text-align:right'>{total[0]:.1f} / {total[1]:.1f}</th></tr>"
                 f"</table><p>{html.escape(lines[-1])}</p>"))
