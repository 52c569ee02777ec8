"""The suite's options and markers (``tests/options.py``), for runs from this repository.

They are registered here, one level above ``tests/assignment``, because pytest only
reads ``pytest_addoption`` from the conftest files it loads first: this one is loaded
both by ``pytest`` (which starts from ``tests/``) and by ``pytest tests/assignment``.
"""

from .options import pytest_addoption, pytest_configure  # noqa: F401

# The test files that take longest, longest first, from pytest's own durations in a full run (tests/grader and
# tests/mutants grade batches). pytest-xdist hands out whole files (--dist loadfile) in collection order when told
# not to reorder them by their number of tests (--no-loadscope-reorder, in the Makefile): the long files start
# early and the short ones fill the end, so that neither core is left waiting on the other's last long file.
SLOWEST_FIRST = (
    "tests/mutants/test_suite_verdicts.py", "tests/grader/test_adversarial.py", "tests/grader/test_grade.py",
    "tests/mutants/test_pack_mutants.py",
    "tests/project/test_release.py", "tests/grader/test_containment.py", "tests/grader/test_interrupts.py",
    "tests/project/test_template.py", "tests/project/test_docs.py", "tests/grader/test_classroom.py",
    "tests/grader/test_reruns.py",
    "tests/project/test_reference_cli.py", "tests/grader/test_class_report.py", "tests/grader/test_gpus.py",
    "tests/grader/test_prairielearn.py", "tests/project/test_submission_loading.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: place for place, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))  # stable: files stay whole
