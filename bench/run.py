"""Where grading time goes, and how the reference's LoRA compares with peft's: a table and a JSON file.

    python bench/run.py                 # everything (half an hour on a 2-core machine)
    python bench/run.py --quick         # fewer repetitions and a batch of 10
    python bench/run.py --out FILE.json
    python bench/run.py --only adapters --only memory   # some of them

Each benchmark's figures go into ``bench/results.json`` with the machine and the time they were
measured on (``bench/record.py``); a run of some keeps the file's figures of the others, so the file
holds the latest of each. The docs render their figures from it (``docs/hooks.py``).

Measured, each as the median of several runs:

- the shared suite on the reference in a fresh interpreter (what a student waits for);
- the grader on one submission, end to end (``python -m grader grade``);
- the same batch graded with every containment layer and with none (``containment.py``),
  alternating, per submission: what containment costs;
- the same batch graded with the judge and the subject apart and, as before the split,
  with the suite in the submission's process, alternating, per submission: what the split
  costs;
- each pack's student suite on its reference in a fresh interpreter;
- the whole process tree's peak memory (proportional set size, shared pages split between the
  processes that share them) grading the reference with ``--jobs 1``, and the objects importing
  torch and transformers leaves behind;
- the grader on a batch of submissions with ``--jobs 2``, per submission, against the
  same submissions graded naively (a fresh ``python -m pytest`` each, one after the
  other), and the peak memory of a grading worker with its test process;
- starting a batch's two workers from one import (a brood) and each with its own, alternating:
  seconds until both are ready and the CPU seconds they took;
- the example adapters' held-out scores (``examples/adapters.py``: the ones the tests rank);
- scoring a student's adapter (read as data, folded into the base model, the held-out reviews classified)
  against one forward pass of the base model over the same reviews;
- one LoRA training step (BERT-base-sized configuration, random weights, LoRA r=8 on
  query and value, batch 8, sequence 128, fp32, AdamW) of the reference against peft's
  LoRA and against full fine-tuning, the contenders' steps alternating; merged-model
  inference against the base model. On a GPU, when there is one, again on the GPU.

peft is needed for the training-step comparison only (``pip install -e ".[bench]"``).
"""

import argparse
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.assignments.pack import available, find

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/record.py, also where docs/hooks.py loads this file
import record

LORA_BERT = find("lora-bert")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = LORA_BERT.examples
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1"}


def wall(command: list[str], check: bool = True, env: dict | None = None) -> float:
    """Seconds ``command`` took; with ``check``, a failure is an error (pytest exits 1 on failing tests)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env or OFFLINE, check=check, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def median_wall(command: list[str], runs: int) -> dict:
    times = [wall(command) for _ in range(runs)]
    return {"median_s": statistics.median(times), "runs_s": times}


def class_folder(size: int) -> Path:
    """``size`` submissions, the examples over and over (correct ones and typical mistakes)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-class-"))
    examples = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ipynb"))
    for index in range(size):
        example = examples[index % len(examples)]
        shutil.copy(example, folder / f"student{index:03d}_{example.stem}{example.suffix}")
    return folder


class PeakWorkerMemory:
    """Samples the resident memory of each grading worker together with its test process."""

    def __init__(self):
        self.peak_mb, self.running = 0.0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        sys.path.insert(0, str(ROOT))
        import psutil

        from grader.sandbox.processes import descendants, resident_mb

        while self.running:
            for process in psutil.process_iter(["cmdline"]):
                if "grader.run.warm_worker import main" in " ".join(process.info["cmdline"] or ()):
                    self.peak_mb = max(self.peak_mb, resident_mb([process, *descendants(process.pid)]))
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak_mb


def grading(size: int, runs: int) -> dict:
    suite = median_wall([sys.executable, "-m", "pytest", "tests/assignment", "-q", "-p", "no:cacheprovider"], runs)
    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    one = median_wall([sys.executable, "-m", "grader", "grade", str(EXAMPLES / "correct.py"), "--out", str(out),
                       "--force", "--quiet"], runs)
    folder = class_folder(size)
    memory = PeakWorkerMemory()
    batch = wall([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out / "batch"),
                  "--jobs", "2", "--quiet"])
    peak = memory.stop()
    naive = sum(wall([sys.executable, "-m", "pytest", "tests/assignment", "-q", "-p", "no:cacheprovider",
                      "--submission", str(path)], check=False) for path in sorted(folder.iterdir()))
    shutil.rmtree(folder)
    shutil.rmtree(out)
    return {
        "suite_fresh_interpreter_s": suite,
        "grader_one_submission_s": one,
        "grader_one_over_suite": one["median_s"] / suite["median_s"],
        "batch_size": size,
        "batch_jobs2_total_s": batch,
        "batch_jobs2_per_submission_s": batch / size,
        "naive_sequential_total_s": naive,
        "naive_per_submission_s": naive / size,
        "batch_over_naive": batch / naive,
        "peak_worker_memory_mb": peak,
    }


def pack_suites(runs: int) -> dict:
    """Each pack's student suite on its reference in a fresh interpreter: what that course's students wait for."""
    suites = {}
    for pack in available():
        if pack.missing():
            continue
        command = [sys.executable, "-m", "pytest", str(pack.suite.relative_to(ROOT)), "-q", "-p", "no:cacheprovider"]
        times = [wall(command, env={**OFFLINE, "LORA_GRADER_ASSIGNMENT": pack.name}) for _ in range(runs)]
        suites[pack.name] = {"median_s": statistics.median(times), "runs_s": times}
    return suites


class PeakTreeMemory:
    """Samples the proportional set size of a process and everything below it: pages two processes share (a
    forked worker's, the tiny models') count half in each, so the sum is what the tree takes from the machine."""

    def __init__(self, pid: int):
        import psutil

        self.root, self.peak_mb, self.running = psutil.Process(pid), 0.0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        import psutil

        while self.running:
            total = 0
            for process in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
            self.peak_mb = max(self.peak_mb, total / 2**20)
            time.sleep(0.1)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak_mb


def memory() -> dict:
    """What ``--memory container`` keeps for the grader (``cli.GRADER_OWN_MB``) is checked against this."""
    out = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    grade = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(EXAMPLES / "correct.py"), "--out",
                              str(out), "--jobs", "1", "--quiet"], cwd=ROOT, env=OFFLINE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = PeakTreeMemory(grade.pid)
    if grade.wait() != 0:
        raise RuntimeError("grading the reference failed")
    peak = sampler.stop()
    shutil.rmtree(out)
    counted = subprocess.run([sys.executable, "-c", "import gc, torch, transformers, transformers.models.bert."
                              "modeling_bert; print(len(gc.get_objects()))"], env=OFFLINE, check=True,
                             capture_output=True, text=True)
    return {"grading_tree_peak_pss_mb": peak, "objects_after_import": int(counted.stdout)}


def alternating(size: int, rounds: int, variants: dict[str, dict], *options: str) -> dict:
    """The same batch graded under each environment of ``variants`` in turn, ``rounds`` times; per submission."""
    folder = class_folder(size)
    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    times = {label: [] for label in variants}
    for _ in range(rounds):
        for label, env in variants.items():
            times[label].append(wall([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out),
                                      "--jobs", "2", "--force", "--quiet", *options], env=env) / size)
    shutil.rmtree(folder)
    shutil.rmtree(out)
    medians = {label: statistics.median(values) for label, values in times.items()}
    return {"batch_size": size, "per_submission_s": times, "median_per_submission_s": medians}


def split_overhead(size: int, rounds: int) -> dict:
    """The judge and the subject apart against, as before the split, the suite in the submission's process (a
    private switch of the tests)."""
    in_process = {**OFFLINE, "LORA_GRADER_DISABLE_LAYERS": "split"}
    found = alternating(size, rounds, {"split": OFFLINE, "in_process": in_process}, "--no-report")
    medians = found["median_per_submission_s"]
    return {**found, "split_over_in_process": medians["split"] / medians["in_process"]}


def containment_overhead(size: int, rounds: int) -> dict:
    """Every containment layer against none."""
    uncontained = {**OFFLINE, "LORA_GRADER_DISABLE_LAYERS": "filesystem,network,signals,privileges,rlimits,cgroup"}
    found = alternating(size, rounds, {"contained": OFFLINE, "uncontained": uncontained})
    medians = found["median_per_submission_s"]
    return {**found, "contained_over_uncontained": medians["contained"] / medians["uncontained"]}


def disk_overhead(size: int, rounds: int) -> dict:
    """The tmpfs disk cap against none (the grader's watch still walks the home then)."""
    uncapped = {**OFFLINE, "LORA_GRADER_DISABLE_LAYERS": "disk"}
    found = alternating(size, rounds, {"capped": OFFLINE, "uncapped": uncapped}, "--no-report")
    medians = found["median_per_submission_s"]
    return {**found, "capped_over_uncapped": medians["capped"] / medians["uncapped"]}


def worker_start(jobs: int, rounds: int) -> dict:
    """Starting a batch's ``jobs`` workers: all from one import (a brood, ``start_together``) against each importing
    on its own (as before, all at once), alternating: seconds until all are ready, and their CPU seconds."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from grader.run.worker_client import Worker, start_together
    from grader.sandbox.processes import become_subreaper

    become_subreaper()  # as the grader is: the brood's workers are adopted, then reaped here

    def separately(workers):
        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(Worker.ensure_started, workers))

    found = {"together": [], "separately": []}
    for _ in range(rounds):
        for label, start in (("together", start_together), ("separately", separately)):
            workers = [Worker() for _ in range(jobs)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            start(workers)
            seconds = time.perf_counter() - started
            for worker in workers:
                worker.close()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            found[label].append({"wall_s": seconds, "cpu_s": cpu})
    medians = {label: {key: statistics.median(run[key] for run in runs) for key in ("wall_s", "cpu_s")}
               for label, runs in found.items()}
    return {"jobs": jobs, "rounds": rounds, "median": medians, "runs": found,
            "cpu_together_over_separately": medians["together"]["cpu_s"] / medians["separately"]["cpu_s"]}


def load(name: str, path: Path):
    """The module a file of the project defines that no package holds (a pack's reference, examples/adapters.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference():
    return load("lora_bert_reference", LORA_BERT.reference)


def bert_base(device):
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(AutoConfig.for_model("bert", num_labels=2)).to(device)


def reference_lora(reference, device):
    """The BERT-base model with the reference's LoRA (r=8 on query and value); LoRA and the head train."""
    model = bert_base(device)
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("classifier")
    return reference.add_lora(model, rank=8, alpha=16, target_modules=["query", "value"])


def synchronizer(device):
    """What waits for the device to finish its queued work before a clock is read."""
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def contenders(device) -> dict:
    """Three models with the same weights: the reference's LoRA, peft's LoRA, full fine-tuning."""
    from peft import LoraConfig, get_peft_model

    ours = reference_lora(load_reference(), device)
    theirs = get_peft_model(bert_base(device), LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"],
                                                          lora_dropout=0.0))
    theirs.base_model.model.classifier.requires_grad_(True)  # the same trainable set as ours: LoRA and the head
    full = bert_base(device)
    return {"reference LoRA": ours, "peft LoRA": theirs, "full fine-tuning": full}


def alternate(steps: dict, rounds: int, warmup: int, synchronize) -> dict:
    """Run each contender's step in turn, ``rounds`` times after ``warmup``; median seconds each."""
    times = {name: [] for name in steps}
    for round_index in range(warmup + rounds):
        order = list(steps.items())
        for name, step in order if round_index % 2 == 0 else reversed(order):  # no contender always goes first
            synchronize()
            started = time.perf_counter()
            step()
            synchronize()
            if round_index >= warmup:
                times[name].append(time.perf_counter() - started)
    return {name: {"median_s": statistics.median(t), "runs_s": t} for name, t in times.items()}


def train_steps(model, inputs, labels, count: int):
    """``count`` AdamW steps on the trainable parameters (``count=0``: a step closure, for timing)."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        model(input_ids=inputs, labels=labels).loss.backward()
        optimizer.step()
    for _ in range(count):
        step()
    return step


def merged_inference(device_name: str, rounds: int) -> dict:
    """A reference LoRA model trained a few steps (so B is not zero) and merged, against the base model.
    Measured first, in a clean process: the training contest's models would weigh on it."""
    import torch

    device = torch.device(device_name)
    inputs, labels = batch(device)
    reference = load_reference()
    base = bert_base(device).eval()
    model = reference_lora(reference, device)
    train_steps(model, inputs, labels, 5)
    merged = reference.merge_lora(model).eval()
    merged.zero_grad(set_to_none=True)

    def forward_of(net):
        def forward():
            with torch.no_grad():
                net(input_ids=inputs)
        return forward

    timed = alternate({"merged model": forward_of(merged), "base model": forward_of(base)}, rounds, 2,
                      synchronizer(device))
    return {**timed, "merged_over_base": timed["merged model"]["median_s"] / timed["base model"]["median_s"]}


def batch(device):
    import torch

    generator = torch.Generator().manual_seed(0)
    return (torch.randint(1000, 20000, (8, 128), generator=generator).to(device),
            torch.randint(0, 2, (8,), generator=generator).to(device))


def training_steps(device_name: str, rounds: int) -> dict:
    import torch

    device = torch.device(device_name)
    inference = merged_inference(device_name, rounds * 4)
    models = contenders(device)
    inputs, labels = batch(device)
    trained = alternate({name: train_steps(model, inputs, labels, 0) for name, model in models.items()},
                        rounds, 2, synchronizer(device))
    trained["trainable_parameters"] = {name: sum(p.numel() for p in m.parameters() if p.requires_grad)
                                       for name, m in models.items()}
    lora, peft_step = trained["reference LoRA"]["median_s"], trained["peft LoRA"]["median_s"]
    return {
        "device": device_name,
        "training_step": trained,
        "reference_over_peft": lora / peft_step,
        "reference_over_full": lora / trained["full fine-tuning"]["median_s"],
        "inference": {key: inference[key] for key in ("merged model", "base model")},
        "merged_over_base": inference["merged_over_base"],
    }


def adapter_scoring(rounds: int) -> dict:
    """Scoring one student's adapter as ``grade`` does (``adapters.leaderboard.Board.score``: the folder read as
    data, folded into the base model, the held-out reviews classified) against one forward pass of the base model
    over the same reviews, alternating. The reference's LoRA on the pack's base model, its B drawn at random,
    exported as the reference exports it."""
    import torch

    from grader.adapters import leaderboard

    board = leaderboard.Board(LORA_BERT.adapter)
    reference = load_reference()
    torch.manual_seed(0)
    model, _ = reference.initialize_base_model(str(ROOT / "tiny_models" / LORA_BERT.adapter["model"]), num_labels=2)
    reference.add_lora(model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".B"):
                param.normal_(0, 0.1)
    folder = Path(tempfile.mkdtemp(prefix="bench-adapter-")) / "adapter"
    reference.export_peft_adapter(model, str(folder))

    def forward():
        with torch.no_grad():
            for batch in board.scorer.batches:
                board.base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])

    timed = alternate({"score an adapter": lambda: board.score(folder), "base model's forward pass": forward},
                      rounds, 3, lambda: None)
    shutil.rmtree(folder.parent, ignore_errors=True)
    ratio = timed["score an adapter"]["median_s"] / timed["base model's forward pass"]["median_s"]
    return {**timed, "reviews": len(board.labels), "score_over_forward": ratio}


def adapter_scores() -> dict:
    """The example adapters' held-out scores (``examples/adapters.py``, the adapters the tests rank): lora-bert's
    by its pack's measure, public and private, with the reference's own ``evaluate`` of the trained model on the
    test split; peft-bert's by macro-F1, its pack's, and by accuracy."""
    from grader.adapters import leaderboard

    adapters = load("example_adapters", ROOT / "examples" / "adapters.py")
    work = Path(tempfile.mkdtemp(prefix="bench-adapter-scores-"))
    try:
        _, own = adapters.reference_adapters(work / "lora-bert")
        adapters.worse(work / "lora-bert" / "trained", work / "lora-bert" / "worse")
        board = leaderboard.Board(LORA_BERT.adapter, private=True)
        lora_bert = {name: {"public": (found := board.score(work / "lora-bert" / name)).public,
                            "private": found.private, "trainable": found.trainable}
                     for name in ("trained", "untrained", "worse")}
        adapters.peft_adapters(work / "peft-bert")
        peft_bert = find("peft-bert")
        by_metric = {metric: leaderboard.Board({**peft_bert.adapter, "metric": metric})
                     for metric in ("macro-f1", "accuracy")}
        scored = {name: {metric: board.score(work / "peft-bert" / name).public for metric, board in by_metric.items()}
                  for name in ("trained", "majority")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"lora-bert": {**lora_bert, "test_split_accuracy": own, "metric": LORA_BERT.adapter["metric"]},
            "peft-bert": scored}


def table(results: dict) -> str:
    g = results.get("grading")
    lines = []
    if g:
        lines += [
            "grading                                              seconds",
            f"  suite on the reference, fresh interpreter (median)  {g['suite_fresh_interpreter_s']['median_s']:7.2f}",
            f"  grader on one submission (median)                   {g['grader_one_submission_s']['median_s']:7.2f}"
            f"   {g['grader_one_over_suite']:.2f}x the suite",
            f"  batch of {g['batch_size']}, --jobs 2, per submission"
            f"              {g['batch_jobs2_per_submission_s']:7.2f}"
            f"   total {g['batch_jobs2_total_s']:.1f}",
            f"  naive, fresh pytest each, sequential, per submission {g['naive_per_submission_s']:7.2f}"
            f"   total {g['naive_sequential_total_s']:.1f}",
            f"  batch / naive                                       {g['batch_over_naive']:7.3f}",
            f"  peak memory of a grading worker and its test process {g['peak_worker_memory_mb']:6.0f} MB",
        ]
    suites = results.get("packs")
    if suites:
        lines += ["", "each pack's suite on its reference, fresh interpreter   seconds (median)"]
        lines += [f"  {name:<50}{suite['median_s']:7.2f}" for name, suite in suites.items()]
    used = results.get("memory")
    if used:
        lines += ["", "memory",
                  f"  grading the reference, --jobs 1: the tree's peak PSS  {used['grading_tree_peak_pss_mb']:6.0f} MB",
                  f"  objects after importing torch and transformers     {used['objects_after_import']:>9,}"]
    report, pairs = results.get("class_report"), results.get("similarity")
    if report:
        lines += ["", f"class report, {report['students']:,} students x {report['tests']} tests "
                      "(bench/class_report.py)",
                  f"  {'writing the report':<50}{report['seconds']:7.2f} s",
                  f"  {'report.html':<50}{report['html_mb']:7.2f} MB"]
    if pairs:
        screening = f"screening, then {pairs['compared']} pairs token by token"
        lines += ["", f"similarity, {pairs['files']:,} files, {pairs['pairs']:,} pairs (bench/class_report.py)",
                  f"  {screening:<50}{pairs['seconds']:7.1f} s",
                  f"  {'similarity.html':<50}{pairs['html_mb']:7.2f} MB"]
    comparisons = (  # key, title, (label, row name) for the two variants, the ratio's key and name
        ("split", "judge and subject", (("split", "judge and subject apart"),
                                        ("in_process", "suite in the submission's process (before)")),
         "split_over_in_process", "apart / in process"),
        ("containment", "containment", (("contained", "every layer"), ("uncontained", "no layer")),
         "contained_over_uncontained", "contained / uncontained"),
        ("disk", "disk cap", (("capped", "a tmpfs of --disk MB per run"), ("uncapped", "no tmpfs (the watch alone)")),
         "capped_over_uncapped", "capped / uncapped"))
    for key, title, variants, ratio, ratio_name in comparisons:
        found = results.get(key)
        if found:
            medians = found["median_per_submission_s"]
            lines += ["", f"{title}, batch of {found['batch_size']}, --jobs 2   seconds per submission (median)"]
            lines += [f"  {name:<50}{medians[label]:7.2f}" for label, name in variants]
            lines.append(f"  {ratio_name:<50}{found[ratio]:7.3f}")
    start = results.get("worker_start")
    if start:
        medians = start["median"]
        lines += ["", f"starting {start['jobs']} workers (median of {start['rounds']})   wall s   CPU s"]
        lines += [f"  {name:<44}{medians[label]['wall_s']:7.2f}{medians[label]['cpu_s']:8.2f}"
                  for label, name in (("together", "one import, forked (a brood)"),
                                      ("separately", "an import each, at once (before)"))]
        lines.append(f"  {'CPU together / separately':<52}{start['cpu_together_over_separately']:7.3f}")
    for run in results.get("training", []):
        lines += ["", f"BERT-base step, batch 8 x 128, fp32, on {run['device']}   median s   trainable"]
        for name in ("reference LoRA", "peft LoRA", "full fine-tuning"):
            lines.append(f"  {name:38s} {run['training_step'][name]['median_s']:8.3f}   "
                         f"{run['training_step']['trainable_parameters'][name]:>11,}")
        lines += [f"  reference / peft                       {run['reference_over_peft']:8.3f}",
                  f"  reference / full fine-tuning           {run['reference_over_full']:8.3f}",
                  f"  merged-model inference                 {run['inference']['merged model']['median_s']:8.3f}",
                  f"  base-model inference                   {run['inference']['base model']['median_s']:8.3f}",
                  f"  merged / base                          {run['merged_over_base']:8.3f}"]
    adapters = results.get("adapters")
    if adapters:
        lines += ["", f"students' adapters, {adapters['reviews']} held-out reviews, {LORA_BERT.adapter['model']}"
                  "      median s"]
        lines += [f"  {name:<50}{adapters[name]['median_s']:8.4f}"
                  for name in ("score an adapter", "base model's forward pass")]
        lines.append(f"  {'score / forward pass (target: at most 1.5)':<50}{adapters['score_over_forward']:8.3f}")
    scores = results.get("adapter_scores")
    if scores:
        lines += ["", "the example adapters' held-out scores (examples/adapters.py)      public   private"]
        lines += [f"  lora-bert {name:<40}{scores['lora-bert'][name]['public']:8.3f}"
                  f"{scores['lora-bert'][name]['private']:10.3f}" for name in ("trained", "untrained", "worse")]
        lines += [f"  peft-bert {name + ', ' + metric:<40}{scores['peft-bert'][name][metric]:8.3f}"
                  for name in ("trained", "majority") for metric in ("macro-f1", "accuracy")]
    return "\n".join(lines)


GROUPS = ("grading", "packs", "memory", "training", "adapters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, a batch of 10")
    parser.add_argument("--out", type=Path, default=record.RESULTS)
    parser.add_argument("--only", action="append", choices=GROUPS, help="these benchmarks alone (repeatable)")
    args = parser.parse_args()
    chosen = set(args.only or GROUPS)
    runs, size, rounds = (2, 10, 3) if args.quick else (5, 40, 7)
    import torch

    machine = record.machine(args.quick)
    results = {}
    if "grading" in chosen:
        results["grading"] = grading(size, runs)
        results["split"] = split_overhead(size // 2, 3)
        results["containment"] = containment_overhead(size // 2, 3)
        results["disk"] = disk_overhead(size // 2, 3)
        results["worker_start"] = worker_start(2, 5)
    if "packs" in chosen:
        results["packs"] = pack_suites(runs)
    if "memory" in chosen:
        results["memory"] = memory()
    if "training" in chosen:
        torch.set_num_threads(os.cpu_count() or 1)
        results["training"] = [training_steps("cpu", rounds)]
        if torch.cuda.is_available():
            results["training"].append(training_steps("cuda", rounds * 3))
    if "adapters" in chosen:
        torch.set_num_threads(1)  # as the grader's own process scores them
        results["adapters"] = adapter_scoring(rounds * 3)
        results["adapter_scores"] = adapter_scores()
    print(table(record.save(results, machine, args.out)))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
