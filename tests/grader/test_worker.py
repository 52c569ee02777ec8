"""The grader's side of the worker protocol."""

import subprocess
import sys

from grader.sandbox import Worker


def test_two_messages_in_one_read_are_both_received():
    # "started" and "exited" can reach the grader in one chunk when a submission dies at once;
    # a buffered reader would hold the second where select() cannot see it.
    worker = Worker()
    worker.process = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.stdout.write('{\"started\": 1}\\n{\"exited\": 0}\\n'); "
                               "sys.stdout.flush(); time.sleep(30)"], stdout=subprocess.PIPE, bufsize=0)
    try:
        assert worker.receive(10) == {"started": 1}
        assert worker.receive(1) == {"exited": 0}
        assert worker.receive(0.1) is None
    finally:
        worker.process.kill()
        worker.process.wait()


def test_a_dead_worker_says_so():
    worker = Worker()
    worker.process = subprocess.Popen([sys.executable, "-c", "pass"], stdout=subprocess.PIPE, bufsize=0)
    assert worker.receive(10) == {"gone": True}
    worker.process.wait()
