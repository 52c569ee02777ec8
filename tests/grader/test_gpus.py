"""One worker per GPU: the GPUs a node hands the grader, which one each worker sees, and --jobs' default."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.assignments.pack import find
from grader.grading import batch, gpus
from grader.grading.submissions import discover
from grader.run.worker_client import Worker, worker_environment

LORA_BERT = find("lora-bert")


@pytest.mark.parametrize("listed, count, expected", [
    (None, 0, []),
    (None, 2, ["0", "1"]),
    ("2,3", 2, ["2", "3"]),  # Slurm's --gres=gpu:2 on the node's third and fourth GPUs
    ("GPU-8f1c,GPU-77aa", 2, ["GPU-8f1c", "GPU-77aa"]),
    ("0,1,7", 2, ["0", "1"]),  # CUDA stops at the first entry it cannot use
    ("", 0, []),
])
def test_visible_gpus_follow_cuda_visible_devices(listed, count, expected):
    assert gpus.visible(listed, count) == expected


def test_workers_take_the_gpus_in_turn():
    assert gpus.assign(2, ["2", "3"]) == ["2", "3"]
    assert gpus.assign(3, ["2", "3"]) == ["2", "3", "2"]
    assert gpus.assign(2, []) == [None, None]


def test_jobs_default_to_one_per_gpu_on_cuda_and_one_per_core_on_the_cpu():
    assert gpus.default_jobs("cuda", ["0", "1", "2", "3"]) == 4
    assert gpus.default_jobs("cpu", ["0", "1", "2", "3"]) == (os.cpu_count() or 1)


def test_a_worker_sees_its_own_gpu_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert worker_environment(tmp_path, gpu="1")["CUDA_VISIBLE_DEVICES"] == "1"
    assert worker_environment(tmp_path)["CUDA_VISIBLE_DEVICES"] == "0,1"  # on the CPU: as the grader was given
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "CUDA_VISIBLE_DEVICES" not in worker_environment(tmp_path)


def test_staff_are_told_how_workers_meet_gpus():
    assert gpus.describe(2, ["0", "1"]) == "cuda: 2 GPUs (CUDA_VISIBLE_DEVICES=0,1), one worker on each"
    assert "take them in turn" in gpus.describe(4, ["0", "1"])
    assert "uses the first 1" in gpus.describe(1, ["0", "1"])


def test_a_started_worker_process_has_its_gpu_in_its_environment():
    worker = Worker(gpu="3")
    try:
        worker.ensure_started()
        environ = Path(f"/proc/{worker.process.pid}/environ").read_bytes().split(b"\0")
    finally:
        worker.close()
    assert b"CUDA_VISIBLE_DEVICES=3" in environ


@pytest.fixture(scope="module")
def in_process_batch(tmp_path_factory):
    """Three submissions graded by ``batch.grade`` called in this process, with two GPUs, while this process has a
    child of its own running: the GPU each worker was given, the results, and whether that child outlived the batch."""
    made = []

    class Recorded(Worker):
        def __init__(self, gpu=None, stopping=None):
            super().__init__(gpu, stopping)
            made.append(gpu)

    tmp_path = tmp_path_factory.mktemp("in_process")
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(LORA_BERT.examples / "correct.py", folder / f"{name}.py")
    submissions, _ = discover([folder], LORA_BERT.file_names, tmp_path / "out")
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setattr(batch, "Worker", Recorded)
            results, _ = batch.grade(submissions, tmp_path / "out",
                                     batch.Settings(jobs=3, gpus=["5", "6"], hidden=False), progress=False)
        survived = bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    return made, results, survived


def test_a_batch_hands_its_gpus_to_its_workers_in_turn(in_process_batch):
    made, results, _ = in_process_batch
    assert made == ["5", "6", "5"]
    assert all(result.score > 0 for result in results.values())


def test_a_batch_ends_its_own_orphans_and_not_the_other_children_of_its_caller(in_process_batch):
    """A batch kills what is left of its workers' trees (``kill_children``), as a Python caller's child (a
    forkserver of this test suite, a notebook's kernel helper) is one too: it must outlive the batch."""
    assert in_process_batch[2]
