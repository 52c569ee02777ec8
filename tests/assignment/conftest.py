"""Fixtures of the assignment suite: the submission under test, the device, the tiny models.

The tests load the base models themselves (not with the submission's
``initialize_base_model``), so that each test judges one function of the contract and
a bug in one function does not fail the tests of the others.
"""

import copy
import gc
import importlib.util
import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

# Importing torch and transformers' BERT modules creates some 350,000 objects, and
# Python's cyclic collector walks all of them again at each full collection, during the
# imports, during the tests and at exit: 2.5 s of a 6.8 s run. None of them is garbage,
# so the collector is paused for the imports and what they made is frozen out of its
# sight (the pattern the `gc.freeze` documentation gives for long-lived objects).
gc.disable()
import pytest  # noqa: E402
import torch  # noqa: E402
import transformers.models.bert.modeling_bert  # noqa: E402  (imported by the tests anyway)
import transformers.models.distilbert.modeling_distilbert  # noqa: E402, F401
from transformers import AutoModelForSequenceClassification  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

gc.freeze()
gc.enable()

from . import global_state, integrity, points  # noqa: E402
from .assets import CONTRACT, TINY_MODELS, is_head  # noqa: E402
from .submission import LoadedSubmission, load_submission  # noqa: E402

KERNEL_PLUGIN = "lora_bert_kernel"  # tests/notebook.py's check() registers its module under this name
TAMPERING = ("The submission replaced {names}, which the tests use to judge it; "
             "no test can be trusted after that, so none counts as passed.")


def pytest_configure(config):
    hf_logging.set_verbosity_error()  # the "newly initialised head" report is expected
    hf_logging.disable_progress_bar()
    # The tiny models gain nothing from intra-op threads, and two suites running side by
    # side with a thread pool each (a grader's --jobs) were measured 8 times slower.
    torch.set_num_threads(1)


class Submission:
    """The student's module as the tests see it.

    A name that cannot be had (the module did not import, or does not define it) fails
    the test that asks for it, in words, rather than with an ``AttributeError``.
    """

    def __init__(self, loaded: LoadedSubmission):
        self._loaded = loaded

    def imported(self) -> LoadedSubmission:
        """What importing gave; fails the test if the module could not be imported at all."""
        if self._loaded.module is None:
            pytest.fail(f"{self._loaded.path} could not be imported.\n{self._loaded.error}", pytrace=False)
        return self._loaded

    def __getattr__(self, name):
        loaded = self._loaded
        if loaded.module is None:
            pytest.fail(f"{loaded.path} could not be imported, so `{name}` cannot be checked.\n"
                        f"{loaded.error}", pytrace=False)
        if hasattr(loaded.module, name):
            return getattr(loaded.module, name)
        cells = "".join(f"\nA notebook cell failed, which may be why:\n{error}" for error in loaded.cell_errors)
        pytest.fail(f"{loaded.path.name} defines no `{name}`; the assignment requires it "
                    f"(see {CONTRACT}).{cells}", pytrace=False)


def default_submission(rootdir: Path) -> Path:
    """The reference in this repository; in a student bundle, the folder (its ``lora_bert.py`` or ``.ipynb``)."""
    reference = rootdir / "reference" / "lora_bert.py"
    return reference if reference.exists() else rootdir


@pytest.fixture(scope="session")
def loaded_submission(pytestconfig) -> LoadedSubmission:
    path = pytestconfig.getoption("--submission") or default_submission(pytestconfig.rootpath)
    namespaces = integrity.watched_namespaces()
    pytestconfig.stash[_untampered] = integrity.snapshot(namespaces), namespaces
    kernel = pytestconfig.pluginmanager.get_plugin(KERNEL_PLUGIN)
    if kernel is not None:  # check() in a notebook: what the kernel defines, already run
        loaded = LoadedSubmission(Path("the running notebook"), module=kernel.module)
    else:
        loaded = load_submission(Path(path))
    with global_state.suite_settings():  # torch rebinds some names when a setting changes (torch.Storage)
        changed = integrity.tampered(*pytestconfig.stash[_untampered])
    if changed:
        loaded.module, loaded.error = None, TAMPERING.format(names=", ".join(changed[:5]))
    pytestconfig.stash[LOADED_SUBMISSION] = loaded
    return loaded


def pytest_terminal_summary(terminalreporter, config):
    """Notebook cells that raised (the tests only say which names are missing), the parts not written
    yet, and, in the student bundle, the points."""
    loaded = config.stash.get(LOADED_SUBMISSION, None)
    if loaded is not None and loaded.cell_errors:
        terminalreporter.section("notebook cells that raised (what they define is missing)")
        for error in loaded.cell_errors:
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


_untampered = pytest.StashKey[tuple]()
_tally = pytest.StashKey[points.Tally]()
_not_implemented = pytest.StashKey[dict]()  # part -> how many of its tests met a NotImplementedError
LOADED_SUBMISSION = pytest.StashKey[LoadedSubmission]()  # read by the grader's report plugin


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After each test, fail it if the submission has replaced anything the tests rely on."""
    result = yield
    if _untampered in item.config.stash:
        with global_state.suite_settings():
            changed = integrity.tampered(*item.config.stash[_untampered])
        if changed:
            pytest.fail(TAMPERING.format(names=", ".join(changed[:5])), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Tally each phase for the points table (only a test whose every phase passed earns its points), and
    mark a test that failed on a stub still raising NotImplementedError: a line for it, not a traceback."""
    report = yield
    item.config.stash.setdefault(_tally, points.Tally()).record_report(report)
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


@pytest.fixture(scope="session")
def lora(loaded_submission) -> Submission:
    """The submission's ``lora_bert`` module."""
    return Submission(loaded_submission)


@pytest.fixture(scope="session")
def device(pytestconfig) -> torch.device:
    name = pytestconfig.getoption("--device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
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
    """Each test runs with the torch settings it was written for, whatever the submission set at import."""
    with global_state.suite_settings():
        yield


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state: same data, same verdict, every run."""
    torch.manual_seed(0)
    random.seed(0)


@pytest.fixture(scope="session")
def _pretrained_cache():
    return {}


@pytest.fixture
def base_model(_pretrained_cache, device):
    """``base_model(name, num_labels=2)``: a fresh tiny model, body frozen, head trainable, in eval mode."""

    def make(name: str, num_labels: int = 2):
        key = (name, num_labels)
        if key not in _pretrained_cache:
            torch.manual_seed(0)
            _pretrained_cache[key] = AutoModelForSequenceClassification.from_pretrained(
                TINY_MODELS / name, num_labels=num_labels)
        model = copy.deepcopy(_pretrained_cache[key]).to(device).eval()
        for param_name, param in model.named_parameters():
            param.requires_grad = is_head(param_name)
        return model

    return make

