"""A grading worker: imports torch, transformers and pytest once, then forks a process per run.

A fresh interpreter spends several seconds importing before the first test runs,
more than the tests of one submission take. A worker pays that once: the grader
starts one per job (``worker_client.py`` runs ``grader.run.warm_worker.main`` with ``python -c``), and
for each submission the worker forks a child that is already warm: the run's *judge*.
The judge starts a session of its own, moves into the run's workspace, takes the run's
environment, forks the zygote that will start the run's subjects (``zygote.py``: they
alone run the submission's code, in the run's control groups), contains itself
(``containment.py``) and runs ``pytest.main`` with the suite; it never returns to the
worker's code.

The worker is a child subreaper and runs one submission at a time, so every process
a submission leaves behind, detached daemons included, ends up its child: after each
run it kills them all before it says the run is over.

Protocol, one JSON object per line, each a type of ``run_request.py``: the worker says
``Ready``; the grader sends a ``RunRequest``; the worker answers ``Started`` and later
``Exited``. What the judge alone may know (``JudgeSecrets``: its seed, its report channel)
never passes through the worker: the judge reads it from a file once it has forked the
zygote, so that no subject's memory holds it.
"""

import contextlib
import gc
import importlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from grader import layout
from grader.grading.fingerprint import digest_files
from grader.run import zygote
from grader.run.run_request import BROOD_VARIABLE, Hatchling, JudgeSecrets, RunRequest
from grader.sandbox.containment import contain
from grader.sandbox.processes import become_subreaper, die_with_parent, kill_children

ZYGOTE_VARIABLE = "LORA_GRADER_ZYGOTE_FD"  # tests/judging/judge.py takes it out of the environment

# What every test process imports: notebooks, pytest and its timeout plugin, the BERT and
# DistilBERT models and tokenizers the suite loads.
WARM_MODULES = (
    "nbformat", "IPython.core.inputtransformer2", "pytest", "pytest_timeout", "transformers",
    "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
    "transformers.models.bert.modeling_bert", "transformers.models.bert.tokenization_bert",
    "transformers.models.distilbert.modeling_distilbert", "transformers.models.distilbert.tokenization_distilbert",
)


WARM = False  # set once warm_up has run in this process: a brood may then be forked from it (worker_client)


def warm_up() -> None:
    """Import what every run needs, without starting a thread pool that a fork would break; once per process.

    The cyclic collector is paused for the imports and what they made is frozen before
    the first fork, as the `gc.freeze` documentation advises for a forking parent: the
    children's collections then neither walk nor write to those objects' pages.
    """
    global WARM
    if WARM:
        return
    gc.disable()
    import torch

    torch.set_num_threads(1)
    for name in WARM_MODULES:
        importlib.import_module(name)
    with contextlib.suppress(ImportError):  # the hidden peft-oracle test's, where peft is installed
        importlib.import_module("peft")
    load_tiny_models()
    gc.freeze()
    gc.enable()
    WARM = True


READ: dict[tuple[str, int], tuple[str, object]] = {}  # (model folder's name, labels) -> (its files' digest, model)


def load_tiny_models() -> None:
    """Read each tiny model once, with 2 labels, on this thread alone, and keep it for the judges and subjects
    forked from here (``tiny_model``).

    A judge and a subject each read the tiny models from disk once (the suite's ``pristine``,
    some 15 ms a model); read here, before the fork, they are read once per worker. transformers
    loads on a pool of threads unless ``HF_DEACTIVATE_ASYNC_LOAD`` is set, as
    ``worker_client.worker_environment`` sets it for every worker (a brood's children take that
    environment afresh), and shows a progress bar whose tqdm starts a monitor thread: a fork while
    either thread holds a lock leaves that lock held in every child (tqdm's hung a whole batch
    once). Each head is drawn from seed 0, as ``pristine`` draws it, and torch's random state is
    put back as it was, so that what a submission draws does not move.
    """
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    state, verbosity = torch.random.get_rng_state(), logging.get_verbosity()
    logging.disable_progress_bar()
    logging.set_verbosity_error()  # not the report of the head it initialised
    try:
        for folder in sorted(layout.TINY_MODELS.iterdir()):
            if (folder / "config.json").is_file():
                torch.random.default_generator.manual_seed(0)
                model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
                READ[(folder.name, 2)] = (digest_files([folder]), model)
    finally:
        logging.enable_progress_bar()
        logging.set_verbosity(verbosity)
        torch.random.set_rng_state(state)


def tiny_model(folder: Path, num_labels: int):
    """The model this worker read before forking, if ``folder`` holds the same files and the head has
    ``num_labels``; else None. Never to be handed out as it is: a copy of it (the suite's ``pristine.fresh``)."""
    found = READ.get((Path(folder).name, num_labels))
    return found[1] if found and found[0] == digest_files([Path(folder)]) else None


def close_inherited_descriptors() -> None:
    """Leave the child nothing of the worker's: not its protocol pipes, not anything else."""
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with contextlib.suppress(OSError):
                os.close(int(name))


def run_child(request: RunRequest) -> None:
    """In the forked child: contain itself, then become the submission's test process. Never returns."""
    try:
        os.setsid()
        close_inherited_descriptors()
        os.chdir(request["cwd"])
        # the checkout the worker imported the grader from holds the reference: off the path
        sys.path[:] = [request["cwd"]] + [p for p in sys.path if p and p != request["hide"]]
        os.environ.update(request["env"])
        tempfile.tempdir = None  # the worker's temp folder is cached there: take the run's TMPDIR instead
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        # the child's standard streams for the rest of its life, never closed: no context manager
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        # What a subject runs of the suite (its server, the protocol, the loader), imported before the
        # zygote is forked, so that neither it nor its subjects ever need to read the suite's files.
        if "split" not in request["disabled"]:  # off only in the tests that prove the split
            importlib.import_module("tests.assignment.subject_builtins")  # and tests.judging.subject
            control = zygote.fork(request)
            os.environ[ZYGOTE_VARIABLE] = str(control.fileno())
        secrets = read_secrets(request["secrets"])  # only now: no subject's memory holds them
        report = os.open(secrets["report"], os.O_WRONLY)
        contain(request["cwd"], request["device"], request["rlimits"], request["hide"],
                frozenset(request["disabled"]))
        os.environ.update({"LORA_GRADER_REPORT_FD": str(report), "LORA_GRADER_TOKEN": secrets["token"]})
        import pytest

        code = pytest.main(secrets["args"])
    except BaseException:  # anything at all: the child must not fall back into the worker's loop
        with contextlib.suppress(BaseException):
            traceback.print_exc()  # into the output the instructor sees, once it is redirected
        code = 99
    os._exit(int(code))


def read_secrets(path: str) -> JudgeSecrets:
    """The judge's secrets (``run_request.JudgeSecrets``), from a file read once and removed."""
    with open(path, encoding="utf-8") as f:
        secrets = json.load(f)
    os.unlink(path)
    return secrets


def serve(commands, answers) -> None:
    for line in commands:
        request: RunRequest = json.loads(line)
        worker = os.getpid()
        pid = os.fork()
        if pid == 0:
            die_with_parent(worker)
            run_child(request)
        answers.write(json.dumps({"started": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        answers.write(json.dumps({"exited": code, "leftovers": kill_children(os.getpid())}) + "\n")
        answers.flush()


def main() -> None:
    """A worker of its own: import, say ready, serve. With ``BROOD_VARIABLE`` set, a brood instead (``brood``)."""
    if BROOD_VARIABLE in os.environ:
        brood(json.loads(os.environ.pop(BROOD_VARIABLE)))
    answers = protocol_output()
    warm_up()
    become_worker(answers, sys.stdin)


def protocol_output():
    """The real standard output, for the protocol alone; what anything prints from now on goes to stderr."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return answers


def become_worker(answers, commands) -> None:
    become_subreaper()
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    serve(commands, answers)


def brood(workers: list[Hatchling]) -> None:
    """Import once, fork one worker per entry of ``workers``, print their pids and exit. Never returns.

    A batch of several jobs starts its workers this way (``worker_client.start_together``):
    one import of torch and transformers instead of one per job, and the workers share its
    pages until they write them. Each child takes its own session, the protocol pipes the
    grader passed for it as its standard input and output, its own home and environment,
    and closes every other descriptor; the brood's exit leaves the workers orphans, adopted
    by the grader, which is a subreaper. What libraries read of the environment at import
    time (``HF_HOME``) they read here, as the first worker's.
    """
    pids_out = protocol_output()  # what the imports print cannot garble the pids
    warm_up()
    pids = []
    for hatchling in workers:
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                os.dup2(hatchling["commands"], 0)
                os.dup2(hatchling["answers"], 1)
                close_inherited_descriptors()
                os.chdir(hatchling["home"])
                os.environ.clear()
                os.environ.update(hatchling["env"])
                tempfile.tempdir = None
                become_worker(protocol_output(), os.fdopen(0, "r", closefd=False))
            finally:
                os._exit(0)
        pids.append(pid)
    pids_out.write(json.dumps(pids) + "\n")
    pids_out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
