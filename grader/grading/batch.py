"""Grade many submissions: in parallel, resumably, one submission's trouble never stopping the others.

Each job has a warm worker (``grader.run.warm_worker``) that forks a test process per
submission, so torch and transformers are imported once per job, not once per
submission. Each submission is graded in a fresh temporary workspace; its
``results.json`` is written last, so a batch killed half-way and started again skips
what is already graded (unless ``force``) and ends with the same grades.csv.
"""

import contextlib
import functools
import importlib.util
import os
import platform
import queue
import secrets
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tqdm.auto import tqdm

from grader.assignments.pack import Pack, find
from grader.grading import budget, fingerprint, gpus, outputs
from grader.grading.outcome import Outcome
from grader.grading.result import RESULTS, GradeResult, ResultError
from grader.grading.rubric import Rubric
from grader.grading.scoring import EXTRA_CREDIT, TestScore, score_run
from grader.grading.submissions import Submission, take_module
from grader.run.listener import CollectedTest
from grader.run.testrun import Limits, Run, prepare_workspace, run_pytest
from grader.run.worker_client import Worker, WorkerError, start_together
from grader.sandbox import cgroups
from grader.sandbox.processes import become_subreaper, children, kill_children

IGNORED_LISTED = 100  # of the files handed in beside the module, named in results.json


class GradingError(RuntimeError):
    """The grader itself cannot grade (the suite does not collect, for example)."""


@dataclass
class Settings:
    device: str = "cpu"
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    pack: Pack = field(default_factory=find)  # the assignment: its suite, module and conventions
    rubric: Rubric | None = None  # None: the pack's own
    hidden: bool = True
    force: bool = False
    seed: int | None = None  # of the inputs the tests draw; None: a fresh one per submission, never known in advance
    gpus: list[str] = field(default_factory=list)  # CUDA_VISIBLE_DEVICES entries, handed to workers in turn
    adapters: dict = field(default_factory=dict)  # submission name -> its adapter's score (adapters.leaderboard)

    def __post_init__(self):
        if self.rubric is None:
            self.rubric = Rubric.of_pack(self.pack)


@functools.cache  # the same for every submission of a batch
def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def expected_tests(settings: Settings, worker: Worker) -> list[CollectedTest]:
    """The tests every submission is graded on, collected once from the grader's own copy of the suite
    (without the CUDA tests on the CPU, nor the peft tests where peft is missing: nobody could pass them)."""
    with tempfile.TemporaryDirectory(prefix="lora-grader-collect-") as folder:
        prepare_workspace(Path(folder), settings.pack)
        run = run_pytest(Path(folder), None, worker=worker, device=settings.device, hidden=settings.hidden,
                         limits=settings.limits, collect_only=True)
    if not run.collected:
        raise GradingError(f"the assignment suite collected no tests:\n{run.output[-3000:]}")
    has_peft = importlib.util.find_spec("peft") is not None  # the test processes share this environment
    return [test for test in run.collected
            if (settings.device == "cuda" or not test["cuda"]) and (has_peft or not test.get("peft"))]


def outcome_of(module, run: Run | None) -> Outcome:
    """How the run went as a whole, the first that applies."""
    if module.file is None:
        return Outcome.NO_MODULE
    if run.stopped:
        return Outcome.STOPPED
    if run.worker_lost:
        return Outcome.WORKER_LOST
    if run.loaded.import_error:
        return Outcome.IMPORT_FAILED
    if len(run.reports) < len(run.collected):
        return Outcome.ENDED_EARLY
    if run.loaded.cell_errors:
        return Outcome.CELLS_RAISED
    return Outcome.GRADED


def note(outcome: Outcome, module, run: Run | None) -> str:
    """A few words for the summary table: display only, nothing reads them back."""
    if outcome is Outcome.STOPPED:
        return run.stopped
    if outcome is Outcome.ENDED_EARLY:
        return "process ended early"
    if outcome is Outcome.CELLS_RAISED:
        return f"{len(run.loaded.cell_errors)} cell(s) raised"
    if outcome is Outcome.GRADED:
        return f"{len(module.ignored)} file(s) left out" if module.ignored else ""
    return outcome.value


class Interrupted(Exception):
    """The batch was interrupted while this submission was being graded: it gets no result."""


def grade_one(submission: Submission, out: Path, settings: Settings, expected: list[CollectedTest], worker: Worker,
              fingerprint: dict, stopping: threading.Event) -> GradeResult:
    """Grade one submission and write its results.json and feedback.md; returns its result.
    Nothing is written when ``stopping`` is set by then: an interrupted run is not the student's doing."""
    started = time.monotonic()
    run = None
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    # A workspace that cannot be removed whole (a file written into it while it is being removed) is left behind:
    # it must not cost the batch its grades. Seen with the filesystem layer off, another job's submission writing
    # into every folder it could reach.
    with tempfile.TemporaryDirectory(prefix="lora-grader-", ignore_cleanup_errors=True) as folder:
        workspace = Path(folder)
        module = take_module(submission, workspace, settings.pack.file_names, settings.pack.suffixes)
        if settings.pack.adapter:  # scored apart (adapters.leaderboard), not left out
            beside = settings.pack.adapter["folder"]
            module.ignored = [name for name in module.ignored if name.partition("/")[0] != beside]
        if module.file is not None:
            prepare_workspace(workspace, settings.pack)
            run = run_pytest(workspace, module.file.name, worker=worker, device=settings.device,
                             hidden=settings.hidden, limits=settings.limits, seed=seed)
    if run is None:
        shares = settings.rubric.max_scores([t["id"] for t in expected])
        scores = [TestScore(t["id"], t["hidden"], "failed", 0.0, shares[t["id"]], f"not graded: {module.problem}")
                  for t in expected]
    else:
        scores = score_run(expected, run, settings.rubric, settings.limits)
    sentences = outputs.summary_sentences(module.problem, module.ignored, run)
    adapter = settings.adapters.get(submission.name)
    if adapter is not None:
        sentences.append(adapter.sentence(settings.pack.adapter["folder"]))
        if settings.rubric.adapter_points and adapter.problem is None:
            scores.append(extra_credit(adapter, settings.rubric))
            sentences.append(f"Extra credit: {scores[-1].output}.")
    summary, scores = budget.fit(sentences, scores)
    outcome = outcome_of(module, run)
    context = {
        "assignment": settings.pack.name,
        "submission": submission.name,
        "source": str(submission.path),
        "device": settings.device,
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "python": platform.python_version(),
        "grader": package_version("lora-grader"),
        "hidden_tests": settings.hidden,
        "seed": seed,
        "ignored_files": module.ignored[:IGNORED_LISTED],  # names a submission chose: a bounded list of them
        "stopped": run.stopped if run else None,
        "limit": run.limit if run else "",
        "peak_memory_mb": run.peak_memory_mb if run else None,
        "peak_disk_mb": run.peak_disk_mb if run else 0.0,
        "peak_disk_files": run.peak_disk_files if run else 0,
        "containment": (run.containment or {}) if run else {},
        "tree_limits": run.tree_limits if run else "",
        "tree_polled": run.tree_polled if run else [],
        "worker_lost": run.worker_lost if run else False,
        "exit_code": run.exit_code if run else None,
        "note": note(outcome, module, run),
        "fingerprint": fingerprint,
    }
    if adapter is not None:
        context["adapter"] = adapter.to_json()
        context["leaderboard"] = adapter.leaderboard()
    result = GradeResult(submission.name, round(sum(s.score for s in scores), 2),
                         round(sum(s.max_score for s in scores), 2), scores, time.monotonic() - started, summary,
                         outcome, context)
    if stopping.is_set():
        raise Interrupted(submission.name)
    folder = out / submission.name
    outputs.write_atomic(folder / outputs.FEEDBACK, outputs.feedback_md(result))
    outputs.write_atomic(folder / RESULTS, result.to_json())  # last: its presence means "graded"
    return result


def extra_credit(adapter, rubric: Rubric) -> TestScore:
    """The rubric's ``[extra]`` for an adapter (adapters.leaderboard.AdapterScore): a test worth nothing of the total
    (``max_score`` 0, Gradescope's extra credit) that scores the points of the highest threshold its held-out score
    reaches; the private split's score where ``grade --private`` gave one, as at the end of a Kaggle competition."""
    split, value = ("private", adapter.private) if adapter.private is not None else ("public", adapter.public)
    points = rubric.adapter_extra(value)
    scale = ", ".join(f"{at_least:g} for {extra:g}" for at_least, extra in rubric.adapter_points)
    return TestScore(EXTRA_CREDIT, False, "passed" if points else "failed", points, 0.0,
                     f"{adapter.metric} {value:.3f} on the {split} held-out split: {points:g} extra point(s) (the "
                     f"rubric's thresholds: {scale})")


@contextlib.contextmanager
def interrupts_stop(stopping: threading.Event, workers: list[Worker]):
    """The first SIGINT or SIGTERM stops the batch: no new submission starts, the running ones are killed
    (their workers with them) and get no result. A second one exits at once, still writing none."""

    def on_signal(signum, frame):
        again = stopping.is_set()
        with Worker.spawning:  # no worker starts unseen while this kills them (see Worker.spawn)
            stopping.set()
            for worker in workers:
                if worker.process is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(worker.process.pid, signal.SIGKILL)
        if again:
            cgroups.thaw_all()  # a run frozen mid-kill by another thread would stay frozen for ever
            os._exit(130)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may take signals
        yield
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        if not stopping.is_set():  # once stopping, a second signal must still exit at once, with 130, however
            for sig, handler in previous.items():  # soon the batch ended after the first
                signal.signal(sig, handler)


def previous_result(submission: Submission, out: Path) -> GradeResult | None:
    try:
        return GradeResult.load(out / submission.name)
    except ResultError:
        return None


@dataclass
class Plan:
    """What a batch does with each submission: reuse its result, regrade it (and why), or grade it anew."""

    reused: list[str] = field(default_factory=list)
    regraded: dict[str, str] = field(default_factory=dict)  # name -> why the old result could not stand
    new: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # left without a result by Ctrl-C or SIGTERM

    def summary(self) -> str:
        line = f"{len(self.new)} graded, {len(self.regraded)} regraded, {len(self.reused)} reused unchanged"
        return "\n".join([line, *(f"  regraded {name}: {why}" for name, why in self.regraded.items())])


def plan(submissions: list[Submission], out: Path,
         settings: Settings) -> tuple[Plan, dict[str, GradeResult], dict[str, dict]]:
    """The plan, the results that stand, and every submission's fingerprint, by name."""
    decided, results, fingerprints = Plan(), {}, {}
    for submission in submissions:
        fingerprints[submission.name] = current = fingerprint.of(submission.path, settings, submission.name)
        previous = previous_result(submission, out)
        if previous is None:
            decided.new.append(submission.name)
        elif settings.force:
            decided.regraded[submission.name] = "--force"
        elif why := fingerprint.stale_because(previous.context.get("fingerprint"), current):
            decided.regraded[submission.name] = why
        else:
            decided.reused.append(submission.name)
            results[submission.name] = previous
    return decided, results, fingerprints


def grade(submissions: list[Submission], out: Path, settings: Settings,
          progress: bool = True) -> tuple[dict[str, GradeResult], Plan]:
    """Grade what has no result that stands, write grades.csv; every submission's results by name, and the plan."""
    out.mkdir(parents=True, exist_ok=True)
    decided, results, fingerprints = plan(submissions, out, settings)
    todo = [s for s in submissions if s.name not in results]
    stopping = threading.Event()
    if todo:
        become_subreaper()
        cgroups.sweep()  # the groups, and what runs in them, of graders killed outright
        callers = set(children(os.getpid()))  # started by whoever called grade(): not the batch's to end
        workers = [Worker(gpu, stopping) for gpu in gpus.assign(min(settings.jobs, len(todo)), settings.gpus)]
        idle = queue.SimpleQueue()
        try:
            with interrupts_stop(stopping, workers), ThreadPoolExecutor(max_workers=len(workers)) as pool:
                try:
                    start_together(workers)  # one import of torch for them all
                    expected = expected_tests(settings, workers[0])
                except (WorkerError, GradingError):
                    if not stopping.is_set():
                        raise
                    todo = []  # interrupted while starting: nothing to grade
                for worker in workers:
                    idle.put(worker)

                def grade_with_a_worker(submission: Submission) -> GradeResult:
                    if stopping.is_set():
                        raise Interrupted(submission.name)
                    worker = idle.get()
                    try:
                        return grade_one(submission, out, settings, expected, worker, fingerprints[submission.name],
                                         stopping)
                    except WorkerError:
                        if stopping.is_set():
                            raise Interrupted(submission.name) from None
                        raise
                    finally:
                        idle.put(worker)

                futures = {pool.submit(grade_with_a_worker, s): s for s in todo}
                with tqdm(total=len(todo), unit="submission", disable=not progress, leave=False) as bar:
                    for future in as_completed(futures):
                        with contextlib.suppress(Interrupted):
                            results[futures[future].name] = future.result()
                        bar.set_postfix_str(futures[future].name, refresh=False)
                        bar.update()
        finally:
            for worker in workers:
                worker.close()
            kill_children(os.getpid(), spare=Worker.pids | callers)  # orphans: a second line behind the workers
    outputs.write_atomic(out / outputs.GRADES, outputs.grades_csv(results))
    decided.interrupted = [s.name for s in submissions if s.name not in results] if stopping.is_set() else []
    return results, decided
