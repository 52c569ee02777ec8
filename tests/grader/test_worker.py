"""The grader's side of the worker protocol."""

import sys

from grader.run.worker_client import Worker


def fake_worker(script: str) -> Worker:
    """A Worker whose process, started exactly as a real one, runs ``script`` instead."""
    worker = Worker()
    worker.spawn([sys.executable, "-c", script])
    return worker


def test_two_messages_in_one_write_are_both_received():
    # "started" and "exited" can reach the grader in one chunk when a submission dies at once;
    # a buffered reader would keep the second where select() cannot see it.
    worker = fake_worker("import sys, time; sys.stdout.write('{\"started\": 1}\\n{\"exited\": 0}\\n'); "
                         "sys.stdout.flush(); time.sleep(30)")
    try:
        assert worker.receive(10) == {"started": 1}
        assert worker.receive(1) == {"exited": 0}
        assert worker.receive(0.1) is None
    finally:
        worker.close()


def test_a_dead_worker_says_so():
    worker = fake_worker("pass")
    try:
        assert worker.receive(10) == {"gone": True}
    finally:
        worker.close()
