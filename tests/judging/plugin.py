"""The fixtures and hooks every pack's suite runs with, whatever its assignment: the submission under test
(``judge``, and ``lora``: reset and seeded for each test), the device, the points, and the verdicts' words.

A suite's ``conftest.py`` imports them (``__all__``) and defines ``subject_side``: its pack's conventions, where
its subject finds the tiny models, and the builtins it adds (``subject_builtins.py``). The tests run in the
judge and reach the submission through ``lora`` (``judge.py``): in a subject process of its own when the
grader runs them, in this process for a student's ``pytest``.
"""

import importlib.util
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from . import global_state, points
from .conventions import Conventions, for_suite
from .judge import Judge, LocalChannel, remote_channel
from .subject import Server
from .submission import LoadedSubmission, load_submission

# What a suite's conftest takes, ``from ..judging.plugin import *``: the fixtures and hooks every suite runs with
# (a hook added here reaches every suite).
__all__ = ["JUDGE", "SubjectSide", "_seeded", "_suite_settings", "device", "judge", "lora",
           "pytest_collection_modifyitems", "pytest_configure", "pytest_ignore_collect", "pytest_report_teststatus",
           "pytest_runtest_makereport", "pytest_runtest_setup", "pytest_terminal_summary"]

KERNEL_PLUGIN = "lora_bert_kernel"  # tests/notebook.py's check() registers its module under this name


@dataclass(frozen=True)
class SubjectSide:
    """A suite's own: its pack's conventions, and what its subject is given besides the submission (the tiny
    models' folder, the builtins the suite adds)."""

    conventions: Conventions
    models: Path
    builtins: dict[str, Callable] = field(default_factory=dict)


def pytest_configure(config):
    """One thread for torch: the tiny models gain nothing from intra-op threads, and two suites running side by side
    with a thread pool each (a grader's --jobs) were measured 8 times slower. transformers' report of the newly
    initialised head, expected, and its progress bars, off."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(1)


def pytest_ignore_collect(collection_path, config):
    """A test file the pack's rubric does not name checks a part this assignment does not have."""
    if collection_path.name.startswith("test_") and collection_path.suffix == ".py":
        return collection_path.name not in for_suite(collection_path.parent).test_files or None
    return None


def pytest_collection_modifyitems(config, items):
    """A test marked ``convention(dropout=True)`` or ``convention(targets="suffixes")`` judges one answer to a
    question packs answer differently (``conventions.py``); it is left out of the runs of the other packs."""
    kept, left = [], []
    for item in items:  # every item of the session (a hook of each suite's conftest): only the marked are read
        marker = item.get_closest_marker("convention")
        if marker is None:
            kept.append(item)
            continue
        conventions = for_suite(item.path.parent)
        ours = {"dropout": conventions.dropout, "targets": conventions.targets_syntax}
        (kept if all(ours[key] == value for key, value in marker.kwargs.items()) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def default_submission(rootdir: Path, conventions: Conventions) -> Path:
    """The pack's reference in this repository; in a student bundle, the folder (its module or notebook)."""
    return conventions.reference if conventions.reference.is_file() else rootdir


def device_name(config) -> str:
    name = config.getoption("--device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return name


@pytest.fixture(scope="session")
def judge(pytestconfig, subject_side: SubjectSide) -> Judge:
    """The submission, as the tests reach it: in a process of its own when grading, else in this one."""
    conventions = subject_side.conventions
    path = pytestconfig.getoption("--submission") or default_submission(pytestconfig.rootpath, conventions)
    channel = remote_channel()
    if channel is None:
        kernel = pytestconfig.pluginmanager.get_plugin(KERNEL_PLUGIN)
        if kernel is not None:  # check() in a notebook: what the kernel defines, already run
            loaded = LoadedSubmission(Path("the running notebook"), module=kernel.module)
        else:
            loaded = load_submission(Path(path), conventions.module)
        path = loaded.path
        channel = LocalChannel(Server(loaded, subject_side.models, device_name(pytestconfig), subject_side.builtins))
    found = Judge(channel, str(path), device_name(pytestconfig))
    pytestconfig.stash[JUDGE] = found
    return found


def pytest_terminal_summary(terminalreporter, config):
    """The import error, once (each test gives its last line), notebook cells that raised (the tests only say
    which names are missing), the parts not written yet, and, in the student bundle, the points."""
    judge = config.stash.get(JUDGE, None)
    import_error = judge.ready()["import_error"] if judge is not None else None
    if import_error is not None:  # each test said so in a line
        terminalreporter.section("importing the submission failed, so no test could run")
        terminalreporter.write_line(import_error)
    cell_errors = judge.ready()["cell_errors"] if judge is not None else []
    if cell_errors:
        terminalreporter.section("notebook cells that raised (what they define is missing)")
        for error in cell_errors:
            terminalreporter.write_line(error)
    waiting = config.stash.get(_not_implemented, {})
    if waiting:
        terminalreporter.section("not implemented yet")
        for part, count in waiting.items():
            terminalreporter.write_line(f"{part}: {count} test{'s' if count > 1 else ''} wait for code "
                                        "that still raises NotImplementedError")
    rubric = points.Points.load()
    in_kernel = config.pluginmanager.has_plugin(KERNEL_PLUGIN)  # check() shows the points itself
    if rubric is not None and _tally in config.stash and not in_kernel:
        terminalreporter.section("points")
        for line in points.table(config.stash[_tally], rubric):
            terminalreporter.write_line(line)


_tally = pytest.StashKey[points.Tally]()
_not_implemented = pytest.StashKey[dict]()  # part -> how many of its tests met a NotImplementedError
JUDGE = pytest.StashKey[Judge]()  # read by the grader's report plugin: what importing the submission gave


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Tally each phase for the points table (only a test whose every phase passed earns its points), mark a
    test that failed on a stub still raising NotImplementedError (a line for it, not a traceback), and one
    during which the submission's process was lost."""
    report = yield
    item.config.stash.setdefault(_tally, points.Tally()).record_report(report)
    judge = item.config.stash.get(JUDGE, None)
    if judge is not None and judge.lost:  # for the grader: the submission's process was lost in this test
        report.user_properties.append(("subject_lost", True))
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        report.not_implemented = True
        part = points.part_title(item.path)
        waiting = item.config.stash.setdefault(_not_implemented, {})
        waiting[part] = waiting.get(part, 0) + 1
    return report


def pytest_report_teststatus(report, config):
    """A test that met NotImplementedError counts as failed but is listed apart, in one line per part."""
    if getattr(report, "not_implemented", False) and report.failed:
        return "not implemented", "N", "NOT IMPLEMENTED"
    return None


@pytest.fixture
def lora(judge) -> Judge:
    """The submission's ``lora_bert`` module, in the subject: every test starts from a clean, seeded subject."""
    judge.reset()
    return judge


@pytest.fixture(scope="session")
def device(pytestconfig) -> torch.device:
    name = device_name(pytestconfig)
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda, but no CUDA device is available")
    return torch.device(name)


def pytest_runtest_setup(item):
    if item.get_closest_marker("cuda") and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    if item.get_closest_marker("peft") and importlib.util.find_spec("peft") is None:
        pytest.skip("needs peft")


@pytest.fixture(autouse=True)
def _suite_settings():
    """The judge's own computations run with the torch settings they were written for (the subject applies the
    same ones around each request)."""
    with global_state.suite_settings():
        yield


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every test draws its inputs from a generator seeded by ``--seed``: the same data and verdict for the same
    seed, and inputs a submission cannot know in advance when the grader draws the seed."""
    seed = request.config.getoption("--seed")
    global_state.manual_seed(seed)
    random.seed(seed)


