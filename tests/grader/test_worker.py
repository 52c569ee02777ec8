"""The grader's side of the worker protocol."""

import json
import os
import subprocess
import sys

from grader.layout import ROOT
from grader.run.worker_client import Worker, worker_environment


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


def test_workers_started_together_import_once_and_are_the_graders_own():
    """A batch's workers come from one import (``start_together``): each was forked ready, having spent next to
    no CPU time of its own (a worker that imported torch itself has spent seconds), is the grader's child, answers,
    and is reaped by ``close``. Run in a process of its own: it must be a subreaper, as the grader is."""
    script = """
import json, os, psutil
from grader.run.worker_client import Worker, start_together
from grader.sandbox.processes import become_subreaper
become_subreaper()
workers = [Worker(), Worker()]
start_together(workers)
processes = [psutil.Process(worker.process.pid) for worker in workers]
facts = {"cpu": [sum(p.cpu_times()[:2]) for p in processes], "parents": [p.ppid() for p in processes],
         "alive": [worker.alive for worker in workers]}
for worker in workers:
    worker.close()
facts["left"] = [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
facts["children"] = [child.pid for child in psutil.Process().children()]
print(json.dumps(facts | {"me": os.getpid()}))
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout)
    assert facts["alive"] == [True, True]
    assert facts["parents"] == [facts["me"]] * 2
    assert max(facts["cpu"]) < 0.5, facts["cpu"]  # forked after the import, not importing
    assert facts["left"] == [] and facts["children"] == []


def test_a_warm_worker_starts_no_thread_before_it_forks(tmp_path):
    """The worker forks judges (and the brood forks workers) after ``warm_up``: a thread alive then, holding a lock
    at the fork, leaves the child that lock held for ever. tqdm's monitor thread, which transformers' loading
    progress bar starts, hung every subject of a batch that way once; transformers loads weights on a pool of
    threads unless told not to. A thread that has ended by the fork is no safer, so none may start at all."""
    script = ("import threading; started = []; start = threading.Thread.start\n"
              "def recorded(thread): started.append(thread.name); start(thread)\n"
              "threading.Thread.start = recorded\n"
              "from grader.run.warm_worker import warm_up; warm_up(); print(started)")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=worker_environment(tmp_path))  # a worker's, as the grader starts one
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_the_tiny_models_a_worker_reads_are_the_ones_the_suite_would_read(tmp_path):
    """A judge or subject takes the worker's model (``tiny_model``) instead of reading its own: it must be the
    very model the suite reads (the same weights, the same seed-0 head), for those files only, and reading it
    must not move the random state a submission draws from."""
    script = """
import json, pathlib, shutil, sys, torch
from grader.layout import TINY_MODELS
from grader.run import warm_worker
sys.path.insert(0, "tests")
from judging import pristine

warm_worker.load_tiny_models()
torch.manual_seed(7)
expected_draw = torch.rand(3)
torch.manual_seed(7)
folder = TINY_MODELS / "bert-tiny"
given = warm_worker.tiny_model(folder, 2)
del sys.modules["grader.run.warm_worker"]  # as a student's pytest: read from disk
read = pristine.read(folder, 2)
same = all(torch.equal(given.state_dict()[k], v) for k, v in read.state_dict().items())
copy = shutil.copytree(folder, pathlib.Path(sys.argv[1]) / "bert-tiny")
(copy / "config.json").write_text((copy / "config.json").read_text().replace("}", ', "x": 1}', 1))
print(json.dumps({"same": same, "draw": torch.equal(torch.rand(3), expected_draw),
                  "other_labels": warm_worker.tiny_model(folder, 3) is None,
                  "other_files": warm_worker.tiny_model(copy, 2) is None}))
"""
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"same": True, "draw": True, "other_labels": True,
                                                       "other_files": True}
