"""The ``lora-grader`` command line (also ``python -m grader``): a thin layer over the modules."""

import argparse
import contextlib
import csv
import os
import signal
import sys
import tempfile
from pathlib import Path

from grader import layout
from grader.adapters import folders as adapter_folders
from grader.adapters import pseudonyms
from grader.analysis import class_report, item_analysis, similarity
from grader.assignments import pack
from grader.authoring import release, template
from grader.grading import batch, gpus, outputs, sharding
from grader.grading.result import RESULTS, GradeResult, ResultError
from grader.grading.rubric import Rubric, RubricError
from grader.grading.submissions import Submission, SubmissionError, discover, safe_name
from grader.platforms import classroom50, gradebook, gradescope, prairielearn
from grader.platforms import files as platform_files
from grader.run.testrun import Limits
from grader.sandbox import cgroups, disk, doctor

# Measured on the CPU with `lora-grader grade reference/lora-bert/lora_bert.py --memory 512`: the reference passes
# both in a control group (it peaks at 67 MB there: what it allocates beyond the worker's shared pages)
# and polled without one (the resident memory of its processes, shared pages included, stays under it).
MIN_MEMORY_MB = 512
# What the grader itself holds beside a submission, per job: its CLI, the warm worker (torch, transformers) and the
# judge, above the whole process tree's peak PSS grading the reference with --jobs 1, submission included
# (`python bench/run.py --only memory`; the figure is on the docs' performance page).
GRADER_OWN_MB = 640
# An honest run of the reference writes nothing in its home (peak_disk_mb 0.0, 1 file: the home itself);
# below these, a submission that saves a small checkpoint would be stopped as disk full.
MIN_DISK_MB, MIN_DISK_FILES = 16, 100
INTERRUPTED = 130  # the shell's exit code for a command stopped by Ctrl-C (128 + SIGINT)


class UsageError(Exception):
    """Misuse of the command line: a one-line error and exit status 2."""


def shown(path: Path) -> Path:
    """``path`` relative to the checkout when it lies inside it, for shorter messages."""
    return path.relative_to(layout.ROOT) if path.is_relative_to(layout.ROOT) else path


def chosen_packs(args) -> list[pack.Pack]:
    """``--assignment``: one pack; for ``template``, every pack of the checkout when none is named."""
    try:
        if args.assignment is None:
            return pack.available() if args.command == "template" else [pack.find()]
        return [pack.find(args.assignment)]
    except pack.PackError as error:
        raise UsageError(str(error)) from None


def cmd_template(args) -> int:
    """Regenerate each pack's template (``--check``: write nothing, say what is stale or leaks a solution)."""
    failed = False
    for chosen in chosen_packs(args):
        files = template.render(chosen.reference, chosen.module)
        if not args.check:
            template.write(files, chosen.template)
            for name in files:
                print(f"wrote {shown(chosen.template / name)}")
            continue
        stale = template.stale_files(files, chosen.template)
        for path in stale:
            print(f"{shown(path)} is out of date with {shown(chosen.reference)}; "
                  f"run: python -m grader template --assignment {chosen.name}", file=sys.stderr)
        leaked = template.leaks(chosen.reference, chosen.template)
        for line in leaked:
            print(f"solution code in the template: {line}", file=sys.stderr)
        if not stale and not leaked:
            print(f"{shown(chosen.template)}/ matches {shown(chosen.reference)} and holds no solution line")
        failed = failed or bool(stale or leaked)
    return 1 if failed else 0


def cmd_assignments(args) -> int:
    """The packs of this checkout, a line each; any spec that is not valid is an error naming its field."""
    try:
        found = pack.available()
    except pack.PackError as error:
        raise UsageError(str(error)) from None
    rows = [("name", "module", "scaling", "suite", "title")]
    rows += [(p.name, f"{p.module}.py", p.conventions["scaling"], p.spec["suite"], p.title) for p in found]
    print(outputs.text_table(rows))
    print(f"\n{len(found)} assignment(s), each in reference/NAME/{pack.SPEC}; a new one starts as a copy of another "
          "(docs/instructors/packs.md: Starting a new assignment)")
    return 0


def cmd_release(args) -> int:
    (assignment,) = chosen_packs(args)
    release.build(args.out, assignment)
    print(f"wrote the student bundle to {args.out}")
    return 0


def resolve_device(name: str) -> str:
    if name == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise UsageError("--device cuda, but no CUDA device is available (use --device cpu or auto)")
    return "cpu"


def cuda_gpus() -> list[str]:
    """The GPUs the grader was given: its CUDA_VISIBLE_DEVICES, as far as CUDA can use them."""
    import torch

    return gpus.visible(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())


def shard(items: list, spec: str | None, env=os.environ) -> list:
    try:
        return sharding.shard(items, spec, env)
    except sharding.ShardError as error:
        raise UsageError(str(error)) from None


def cmd_doctor(args) -> int:
    layers = doctor.probe(resolve_device(args.device))
    print(doctor.table(layers))
    missing = doctor.missing_for_strict(layers)
    print(f"\n--isolation strict would refuse to grade here: missing {', '.join(missing)}" if missing
          else "\n--isolation strict can grade here")
    return 0


def check_isolation(mode: str, layers: list[doctor.Layer]) -> str:
    """The containment line for the summary; with ``strict``, refuse where files or network are exposed."""
    missing = doctor.missing_for_strict(layers)
    if mode == "strict" and missing:
        raise UsageError(f"--isolation strict: this machine cannot contain {' and '.join(missing)} "
                         "(run lora-grader doctor)")
    return doctor.summary(layers)


def cmd_grade(args) -> int:
    (assignment,) = chosen_packs(args)
    if missing := assignment.missing():
        raise UsageError(f"assignment {assignment.name} needs {', '.join(missing)}: pip install "
                         + " ".join(repr(requirement) for requirement in missing))
    try:
        found, skipped = ([as_one(path) for path in args.paths], []) if args.single \
            else discover(args.paths, assignment.file_names, args.out, assignment.suffixes)
        submissions = shard(found, args.shard)
        rubric = Rubric.load(args.rubric, assignment.suite) if args.rubric else Rubric.of_pack(assignment)
    except (SubmissionError, RubricError) as error:
        raise UsageError(str(error)) from None
    names = read_pseudonyms(args.pseudonyms, args.out)
    device = resolve_device(args.device)
    given = cuda_gpus() if device == "cuda" else []
    jobs = args.jobs or gpus.default_jobs(device, given)
    memory = memory_per_submission(args.memory, max(min(jobs, len(submissions)), 1))
    layers = doctor.probe(device)
    containment = check_isolation(args.isolation, layers)
    settings = batch.Settings(
        pack=assignment, device=device, jobs=jobs, gpus=given, rubric=rubric, hidden=args.hidden, force=args.force,
        seed=args.seed,
        limits=Limits(test_timeout=args.test_timeout, timeout=args.timeout, cpu_seconds=args.cpu_time,
                      memory_mb=memory, disk_mb=args.disk, disk_files=args.disk_files))
    tmpfs = any(layer.name == "disk" and layer.applied and layer.held for layer in layers)
    if short := disk.room_problems(args.out, Path(tempfile.gettempdir()), len(submissions), jobs,
                                   0 if tmpfs else args.disk):
        raise UsageError(f"not enough room to grade: {'; '.join(short)}")
    if containment.startswith("WARNING"):
        print(containment, file=sys.stderr)
    if given:
        print(gpus.describe(jobs, given), file=sys.stderr)
    print(f"assignment {assignment.name}, rubric {shown(args.rubric or assignment.spec_file)}: {rubric.total:g} points",
          file=sys.stderr)
    found = adapter_folders.of_class(submissions, assignment.adapter["folder"], args.single) if assignment.adapter \
        else {}
    if found and not (layout.ROOT / assignment.adapter["data"]).is_file():
        print(f"adapters not scored: no held-out data here ({assignment.adapter['data']}; a public autograder such as "
              "Classroom 50's is given none)", file=sys.stderr)
    elif found:  # as data, in this process, before any submission's code runs
        from grader.adapters import leaderboard  # torch and transformers: only where there are adapters to score

        settings.adapters = leaderboard.score_class(found, assignment.adapter, args.private)
    results, plan = batch.grade(submissions, args.out, settings, progress=not args.quiet)
    print(containment)
    print(plan.summary())
    for path, reason in skipped:
        print(f"  left out {path}: {reason}")
    print(outputs.summary_table({s.name: results[s.name] for s in submissions if s.name in results}))
    if plan.interrupted:
        print(f"\ninterrupted: {len(plan.interrupted)} submission(s) left without a result; run the same command "
              f"again to grade them (what is graded is kept). grades.csv holds the {len(results)} graded.",
              file=sys.stderr)
        return INTERRUPTED
    platform_files.write(args.format, {s.name: results[s.name] for s in submissions if s.name in results}, args.out,
                         rubric, assignment)
    written = ""
    if settings.adapters:  # scored above: leaderboard is imported
        outputs.write_atomic(args.out / leaderboard.CSV, leaderboard.leaderboard_csv(settings.adapters, names))
        written += f", the adapters' leaderboard in {args.out / leaderboard.CSV}"
    if args.report:
        class_report.write(args.out, rubric, assignment.suite, assignment.adapter, names)
        written += f", the class report in {args.out / class_report.HTML}"
    print(f"\nresults.json and feedback.md per submission in {args.out}/, all scores in {args.out / outputs.GRADES}"
          f"{written}")
    return 0


def cmd_prairielearn(args) -> int:
    (assignment,) = chosen_packs(args)
    try:
        prairielearn.build(args.out, assignment)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    print(f"wrote the PrairieLearn course files to {args.out}: see {args.out / 'README.md'}")
    return 0


def cmd_gradebook(args) -> int:
    graded, unreadable = item_analysis.load(args.out)
    if not graded:
        raise UsageError(f"{args.out}: no graded submission in it (no NAME/{RESULTS})")
    points = max(student.max_score for student in graded)
    try:
        book = gradebook.build({s.name: s.score for s in graded}, points, args.canvas, args.assignment, args.roster,
                               args.missing)
    except gradebook.GradebookError as error:
        raise UsageError(str(error)) from None
    outputs.write_atomic(args.output, book.csv())
    scored = len(book.rows) - 1 - len(book.unsubmitted)
    print(f"wrote {args.output}: {scored} scores in the column {args.assignment!r}, out of {points:g}; "
          "import it in Canvas (Grades, Import)")
    for title, names in ((f"students without a submission ({gradebook.MISSING[book.missing]})", book.unsubmitted),
                         ("submissions without a student (left out)", book.unmatched + unreadable)):
        if names:
            print(f"{len(names)} {title}: {', '.join(names)}")
    return 0


def graded_assignment(out: Path) -> str | None:
    """The pack a graded folder was graded with, as its results say (``context.assignment``)."""
    for path in sorted(out.glob(f"*/{RESULTS}")):
        with contextlib.suppress(ResultError):
            return GradeResult.load(path.parent).context.get("assignment")
    return None


def cmd_report(args) -> int:
    args.assignment = args.assignment or graded_assignment(args.out)
    (assignment,) = chosen_packs(args)
    written = class_report.ClassReport.build(args.out, Rubric.of_pack(assignment), assignment.suite,
                                             assignment.adapter, read_pseudonyms(args.pseudonyms, args.out))
    if not written.students:
        raise UsageError(f"{args.out}: no graded submission in it (give the --out folder of a grade run)")
    class_report.save(written)
    print(f"wrote {args.out / class_report.HTML} and its figures ({class_report.MARKDOWN}, "
          f"{class_report.TESTS_CSV}, {class_report.REASONS_CSV}, {class_report.STUDENTS_CSV}): "
          f"{len(written.students)} submissions")
    return 0


def read_pseudonyms(path: Path | None, out: Path) -> dict[str, str]:
    """The roster of ``--pseudonyms``, which the graded folder ``out`` keeps; without it, the one it kept."""
    try:
        return pseudonyms.given_or_kept(path, out)
    except pseudonyms.PseudonymError as error:
        raise UsageError(str(error)) from None


def cmd_similarity(args) -> int:
    (assignment,) = chosen_packs(args)
    try:
        found, _ = discover(args.paths, assignment.file_names, args.out, assignment.suffixes)
    except SubmissionError as error:
        raise UsageError(str(error)) from None
    pairs = similarity.run(found, args.out, assignment)
    if (args.out / class_report.HTML).is_file():  # a graded folder: its report now links the ranking
        class_report.write(args.out, Rubric.of_pack(assignment), assignment.suite, assignment.adapter,
                           read_pseudonyms(None, args.out))
    print(outputs.text_table([("first", "second", "similarity", "tokens in common")] + [
        (pair.first, pair.second, f"{100 * pair.similarity:.0f}%", str(pair.tokens)) for pair in pairs[:10]]))
    print(f"\n{len(pairs)} pair(s) share code beyond the template, of {len(found) * (len(found) - 1) // 2}; "
          f"side by side in {args.out / similarity.HTML}, all in {args.out / similarity.CSV}")
    return 0


def as_one(path: Path) -> Submission:
    """With --single: PATH is one submission, even a folder whose module has another name."""
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder")
    return Submission(safe_name(path.stem if path.is_file() else path.name), path)


def cmd_gradescope(args) -> int:
    try:
        (assignment,) = chosen_packs(args)
        gradescope.build(args.out, assignment, args.timeout)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(f"wrote the Gradescope autograder bundle {args.out}: upload it as the assignment's autograder")
    return 0


def cmd_classroom50(args) -> int:
    (assignment,) = chosen_packs(args)
    try:
        classroom50.build(args.out, assignment, args.hidden_tests)
    except (FileExistsError, classroom50.HiddenTestsError) as error:
        raise UsageError(str(error)) from None
    print(f"wrote the Classroom 50 autograder of {assignment.name} to {args.out}: see {args.out / 'README.md'}")
    return 0


def cmd_merge(args) -> int:
    try:
        text, count = outputs.merge_grades(args.inputs)
    except (OSError, KeyError, csv.Error) as error:
        raise UsageError(f"not a grades.csv: {error}") from None
    outputs.write_atomic(args.output, text)
    print(f"merged {count} submissions from {len(args.inputs)} files into {args.output}")
    return 0


def add_assignment_option(parser, default_text: str = f"default: {pack.DEFAULT}") -> None:
    parser.add_argument("--assignment", metavar="NAME|PATH", default=None,
                        help=f"the assignment pack: a name from `lora-grader assignments`, or the path of a pack's "
                        f"folder or {pack.SPEC} ({default_text})")


def add_template(commands) -> None:
    generate = commands.add_parser("template", help="regenerate student_template/NAME/ from each pack's reference")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 if a template is stale")
    add_assignment_option(generate, "default: every pack")
    generate.set_defaults(run=cmd_template)


def add_assignments(commands) -> None:
    listing = commands.add_parser("assignments", help="list the assignment packs, a line each")
    listing.set_defaults(run=cmd_assignments)


def add_release(commands) -> None:
    bundle = commands.add_parser("release", help="write the student bundle (template, public tests, models, data)")
    bundle.add_argument("out", type=Path, help="a folder that does not exist yet")
    add_assignment_option(bundle)
    bundle.set_defaults(run=cmd_release)


def add_grade(commands) -> None:
    grade = commands.add_parser("grade", help="grade submissions: results.json and feedback.md each, grades.csv")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="a submission (.py, .ipynb, .zip, or a folder with the assignment's module) or a "
                       "folder of them")
    grade.add_argument("--out", type=Path, required=True, help="where results go (created if missing)")
    grade.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                       help="where the tests run the models; auto picks CUDA when present (default: cpu)")
    grade.add_argument("--jobs", type=positive, default=None,
                       help="submissions graded at once (default: one per GPU with --device cuda, each worker "
                       "seeing its own GPU; else the number of cores)")
    grade.add_argument("--test-timeout", type=positive_seconds, default=Limits.test_timeout, metavar="SECONDS",
                       help=f"per test (default {Limits.test_timeout:g})")
    grade.add_argument("--timeout", type=positive_seconds, default=Limits.timeout, metavar="SECONDS",
                       help=f"per submission, wall clock (default {Limits.timeout:g})")
    grade.add_argument("--cpu-time", type=positive_seconds, default=Limits.cpu_seconds, metavar="SECONDS",
                       help=f"per submission, all its processes together (default {Limits.cpu_seconds:g})")
    grade.add_argument("--isolation", choices=("strict", "warn"), default="warn",
                       help="strict: refuse to grade where files or network cannot be contained; "
                       "warn: grade with a warning (default)")
    grade.add_argument("--memory", type=memory_limit, default=Limits.memory_mb, metavar="MB",
                       help=f"per submission, all its processes (default {Limits.memory_mb}); container: what the "
                       f"container's memory limit leaves after the grader's own {GRADER_OWN_MB} MB per job")
    grade.add_argument("--disk", type=at_least(MIN_DISK_MB, "MB"), default=Limits.disk_mb, metavar="MB",
                       help=f"per submission, all the files its processes write (default {Limits.disk_mb})")
    grade.add_argument("--disk-files", type=at_least(MIN_DISK_FILES, "files"), default=Limits.disk_files,
                       metavar="N", help=f"per submission, files and folders it creates (default {Limits.disk_files})")
    grade.add_argument("--rubric", type=Path, default=None,
                       help="a file of points per test file or test, [points] (default: the pack's own, in its "
                       f"{pack.SPEC})")
    add_assignment_option(grade)
    visibility = grade.add_mutually_exclusive_group()
    visibility.add_argument("--hidden", dest="hidden", action="store_true", default=True,
                            help="run the hidden tests too (default)")
    visibility.add_argument("--public", dest="hidden", action="store_false", help="run the public tests only")
    grade.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    grade.add_argument("--seed", type=int, default=None, metavar="N",
                       help="seed of the inputs the tests draw (default: a fresh one per submission, recorded in "
                       "its results.json; give the recorded one to regrade it on the same inputs)")
    grade.add_argument("--shard", metavar="K/N", help="grade only the K-th of N slices of the submissions; "
                       "auto: K and N from a Slurm job array; auto/N: K from a Kubernetes indexed Job")
    grade.add_argument("--single", action="store_true",
                       help="each PATH is one submission, even a folder without the module (as on Gradescope)")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.add_argument("--format", choices=platform_files.FORMATS, default="gradescope",
                       help="beside each results.json (Gradescope's format, always written): classroom.json, the "
                       "GitHub Classroom reporter's runners (and $GITHUB_OUTPUT's lines, grading one; legacy: "
                       "Classroom is retired), result.json and release-body.md, Classroom 50's (and its status "
                       "lines), or prairielearn.json, PrairieLearn's results.json (default: gradescope, nothing more)")
    grade.add_argument("--private", action="store_true",
                       help="show each adapter's score on the private held-out split too (at the end, as Kaggle "
                       "does; by default only the public split's)")
    add_pseudonyms_option(grade)
    grade.add_argument("--no-report", dest="report", action="store_false",
                       help="no class report (report.html and its CSVs): one submission graded on a platform")
    grade.set_defaults(run=cmd_grade)


def add_gradescope(commands) -> None:
    autograder = commands.add_parser("gradescope",
                                     help="write a Gradescope autograder bundle (setup.sh, run_autograder)")
    autograder.add_argument("out", type=Path, help="the .zip to write")
    autograder.add_argument("--timeout", type=positive_seconds, default=gradescope.DEFAULT_TIMEOUT, metavar="SECONDS",
                            help="the assignment's autograder timeout on Gradescope: the grader stops "
                            f"{gradescope.HEADROOM_SECONDS} s before it (default {gradescope.DEFAULT_TIMEOUT})")
    add_assignment_option(autograder)
    autograder.set_defaults(run=cmd_gradescope)


def add_classroom50(commands) -> None:
    autograder = commands.add_parser("classroom50", help="write a Classroom 50 autograder folder (autograder.py, "
                                     "its runtime block, the grader with the public tests)")
    autograder.add_argument("out", type=Path, help="a folder that does not exist yet (or an empty one)")
    autograder.add_argument("--hidden-tests", choices=(classroom50.HIDDEN_STAFF,), default=None,
                            help="the pack has hidden tests: leave them out of the (public) folder, the course "
                            "grading them itself with `grade` (without it, such a pack is refused)")
    add_assignment_option(autograder)
    autograder.set_defaults(run=cmd_classroom50)


def add_doctor(commands) -> None:
    checkup = commands.add_parser("doctor", help="which containment layers this machine gives a submission")
    checkup.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                         help="probe as for grading on this device (default: cpu)")
    checkup.set_defaults(run=cmd_doctor)


def add_prairielearn(commands) -> None:
    course = commands.add_parser("prairielearn", help="write PrairieLearn course files: the grader in "
                                 "serverFilesCourse, a question with externalGradingOptions, the image's Dockerfile")
    course.add_argument("out", type=Path, help="a folder that does not exist yet")
    add_assignment_option(course)
    course.set_defaults(run=cmd_prairielearn)


def add_gradebook(commands) -> None:
    book = commands.add_parser("gradebook", help="write the CSV that Canvas's gradebook import takes")
    book.add_argument("out", type=Path, help="the --out folder of a grade run")
    book.add_argument("--canvas", type=Path, required=True, help="the course's gradebook, exported from Canvas")
    book.add_argument("--roster", type=Path, help="CSV: a 'submission' column and one of ID, SIS User ID, "
                      "SIS Login ID (default: submissions are named by one of those)")
    book.add_argument("--assignment", default="LoRA fine-tuning", help="the assignment's column as in the export, "
                      "'Name (id)'; a name without an id creates a new assignment (default: %(default)s)")
    book.add_argument("--output", type=Path, default=Path("canvas_import.csv"), help="default: %(default)s")
    book.add_argument("--missing", choices=tuple(gradebook.MISSING), default="keep",
                      help="a student without a submission: keep their cell of the export (Canvas clears a grade "
                      "a blank is imported over), give 0, or excuse them with EX (default: %(default)s)")
    book.set_defaults(run=cmd_gradebook)


def add_report(commands) -> None:
    summary = commands.add_parser("report", help="write the class report of a graded folder (report.html, CSVs)")
    summary.add_argument("out", type=Path, help="the --out folder of a grade run")
    add_assignment_option(summary)
    add_pseudonyms_option(summary)
    summary.set_defaults(run=cmd_report)


def add_pseudonyms_option(parser) -> None:
    parser.add_argument("--pseudonyms", type=Path, metavar="CSV",
                        help="a roster with the columns submission and pseudonym: the adapters' leaderboard "
                        "(leaderboard.csv, the class report's) names each student by pseudonym where it gives one")


def add_similarity(commands) -> None:
    alike = commands.add_parser("similarity", help="rank pairs of submissions by code in common beyond the template")
    alike.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="submissions, or a folder of them")
    alike.add_argument("--out", type=Path, required=True, help="where similarity.html and similarity.csv go")
    add_assignment_option(alike)
    alike.set_defaults(run=cmd_similarity)


def add_merge(commands) -> None:
    merge = commands.add_parser("merge", help="join the grades.csv files of several shards")
    merge.add_argument("output", type=Path, help="the joined grades.csv to write")
    merge.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="grades.csv of each shard")
    merge.set_defaults(run=cmd_merge)


# One builder per command: its arguments, and the cmd_ function it calls.
COMMANDS = (add_assignments, add_template, add_release, add_grade, add_gradescope, add_classroom50, add_doctor,
            add_prairielearn, add_gradebook, add_report, add_similarity, add_merge)


def entry_point() -> int:
    """``main`` as the process runs it (``lora-grader``, ``python -m grader``): interrupted, it exits with 130.

    As Python shuts down it puts the default signal handlers back, and a second Ctrl-C that
    lands then (a batch stopped by the first one ends within a second) kills the process by
    the signal instead, so that its parent sees -2, not 130 (a CI run of the double Ctrl-C
    test did). The process is on its way out anyway: from here on it ignores both signals.
    In-process callers of ``main`` keep their own handlers.
    """
    code = main()
    if code == INTERRUPTED:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    return code


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every command and option (the docs' commands are checked against it)."""
    parser = argparse.ArgumentParser(prog="lora-grader",
                                     description="Grade LoRA assignments, each described by its pack.")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (template.MarkerError, release.ReleaseError, UsageError, batch.GradingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a batch takes over the signal (discovering, probing, starting)
        print("interrupted: nothing was graded", file=sys.stderr)
        return INTERRUPTED


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def at_least(minimum: int, unit: str):
    """A whole number no lower than ``minimum``: below it, a submission that writes a little would be stopped."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number of {unit}: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} {unit} is below the {minimum} {unit} a submission may need "
                                             "for a small file of its own")
        return value

    return parse


def memory_per_submission(option: int | str, jobs: int) -> int:
    """``--memory``: megabytes, or ``container``: what the container the grader runs in leaves each job once the
    grader's own share is taken (a platform kills the whole container past its limit, the student getting nothing)."""
    if option != "container":
        return option
    limit = cgroups.container_memory_mb()
    if limit is None:
        return Limits.memory_mb
    left = limit // jobs - GRADER_OWN_MB
    if left < MIN_MEMORY_MB:
        raise UsageError(f"--memory container: this container allows {limit} MB; each of the {jobs} job(s) needs "
                         f"about {GRADER_OWN_MB} MB for the grader and {MIN_MEMORY_MB} MB for a submission. Give the "
                         f"container at least {jobs * (GRADER_OWN_MB + MIN_MEMORY_MB)} MB")
    return left


def memory_limit(text: str) -> int | str:
    """At least what the suite needs on the reference, with room to spare (``MIN_MEMORY_MB``); or ``container``."""
    if text == "container":
        return text
    value = positive(text)
    if value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(
            f"{value} MB is below the {MIN_MEMORY_MB} MB that grading the reference needs; "
            "a correct submission would be stopped as out of memory")
    return value
