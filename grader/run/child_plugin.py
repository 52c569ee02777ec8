"""Loaded with ``-p`` into the pytest process that runs a submission: reports each test to the grader.

This file is copied into the submission's workspace and has no imports from the
grader. It takes the report pipe's descriptor and a per-run token out of the
environment before any test (and so the submission) runs, and writes one JSON line
per event. The grader reads nothing else from the child as a verdict: not its exit
status, not its output, not any file it leaves behind.
"""

import json
import os
import signal

import pytest
from pytest_timeout import timeout_sigalrm  # loaded before this plugin (-p pytest_timeout)

_PIPE = os.fdopen(int(os.environ.pop("LORA_GRADER_REPORT_FD")), "w", buffering=1, encoding="utf-8")
_TOKEN = os.environ.pop("LORA_GRADER_TOKEN")
MAX_MESSAGE = 4000


def _send(**event) -> None:
    _PIPE.write(json.dumps({"token": _TOKEN, **event}) + "\n")
    _PIPE.flush()


def _message(report) -> str:
    text = report.longreprtext or ""
    if len(text) > MAX_MESSAGE:  # the rule comes first, the error last: keep both ends
        text = f"{text[:1500]}\n[... {len(text) - 3500} characters left out ...]\n{text[-2000:]}"
    return text


class _Phases:
    """Whether a test's setup, call or teardown is running, and an alarm that went off between them."""

    inside = False
    missed = None  # the alarm's (item, settings), when it went off between two phases


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """pytest-timeout's alarm, confined to a test's phases.

    Its own handler raises wherever the alarm finds the process. Between two phases (while
    pytest writes a report, which a submission's threads can slow down) nothing catches
    it: the whole run ends with an internal error and every later test earns nothing.
    Here an alarm that goes off between phases goes off at the start of the next one.
    """
    if settings.method != "signal":
        return None

    def on_alarm(signum, frame):
        if _Phases.inside:
            timeout_sigalrm(item, settings)
        else:
            _Phases.missed = (item, settings)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        _Phases.missed = None

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def _missed_alarm_goes_off():
    if _Phases.missed is not None:
        item, settings = _Phases.missed
        _Phases.missed = None
        timeout_sigalrm(item, settings)


def _phase(first: bool):
    """Run a phase with the alarm armed; an alarm missed before it goes off at its start (``first``) or, for a
    teardown, which must still tear down, at its end."""
    _Phases.inside = True
    try:
        if first:
            _missed_alarm_goes_off()
        result = yield
        if not first:
            _missed_alarm_goes_off()
        return result
    finally:
        _Phases.inside = False


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    return (yield from _phase(first=True))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    return (yield from _phase(first=True))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _phase(first=False))


def pytest_collection_finish(session):
    _send(event="collected", tests=[
        {"id": item.nodeid, "hidden": item.get_closest_marker("hidden") is not None,
         "cuda": item.get_closest_marker("cuda") is not None,
         "peft": item.get_closest_marker("peft") is not None} for item in session.items
    ])


def pytest_runtest_logstart(nodeid, location):
    _send(event="start", test=nodeid)


def pytest_runtest_logreport(report):
    if report.when == "call" or not report.passed:
        _send(event="result", test=report.nodeid, when=report.when, outcome=report.outcome,
              message=_message(report) if not report.passed else "", duration=report.duration,
              subject_lost=dict(report.user_properties).get("subject_lost", False))


def pytest_sessionfinish(session):
    """How the submission's processes (the subjects) were contained, and what importing the submission gave, as
    the suite's judge heard it."""
    for plugin in session.config.pluginmanager.get_plugins():
        key = getattr(plugin, "JUDGE", None)
        if key is not None and key in session.config.stash:
            judge = session.config.stash[key]
            _send(event="contained", layers=judge.containment())
            ready = judge.ready()
            _send(event="submission", import_error=ready["import_error"], cell_errors=ready["cell_errors"],
                  printed_on_import=ready["printed_chars"], subjects=judge.subjects_started())
            return
