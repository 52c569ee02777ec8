"""The plugin inside the test process: a test's timeout stays that test's, wherever the alarm goes off."""

import os
import subprocess
import sys

from grader.layout import ROOT

# A report that takes 1.5 s to write, as pytest's can on a machine a submission's threads slow down.
SLOW_REPORTS = '''
import time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call" and item.name == "test_slow_report":
        time.sleep(1.5)
    return report
'''

TESTS = '''
import time


def test_slow_report():
    time.sleep(0.8)


def test_after_it():
    pass
'''


def test_an_alarm_between_two_phases_fails_that_test_not_the_run(tmp_path):
    (tmp_path / "conftest.py").write_text(SLOW_REPORTS)
    (tmp_path / "test_phases.py").write_text(TESTS)
    read, write = os.pipe()
    env = {**os.environ, "LORA_GRADER_REPORT_FD": str(write), "LORA_GRADER_TOKEN": "t",
           "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_timeout",
                          "-p", "grader.run.child_plugin", "--timeout", "1", "-o", "addopts=", "--rootdir",
                          str(tmp_path), "test_phases.py"], cwd=tmp_path, env=env, pass_fds=(write,),
                         capture_output=True, text=True, timeout=120)
    os.close(write)
    os.close(read)
    assert "INTERNALERROR" not in run.stdout + run.stderr, run.stdout[-3000:]
    assert run.returncode == 1, run.stdout[-3000:]
    # The slow report's test is out of time at its teardown (an error, which earns nothing); the next one passes.
    assert "ERROR test_phases.py::test_slow_report - Failed: Timeout" in run.stdout, run.stdout[-3000:]
    assert "2 passed, 1 error" in run.stdout, run.stdout[-3000:]
