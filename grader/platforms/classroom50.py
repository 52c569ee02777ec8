"""Classroom 50 (foundation50/classroom50), GitHub Classroom's successor: a graded submission's result, and the
assignment's autograder folder.

How Classroom 50 grades, read from its sources at commit 0c499034f247 (``runner.py`` is
``cli/gh-teacher/skeleton/dotgithub/scripts/runner.py``; the wiki page is ``wiki/Advanced-Autograding.md``):

- ``runner.py``, ``run_entrypoint``: the assignment's ``autograder.py`` runs as
  ``[sys.executable, autograder.py]``, no arguments, in the student's checkout, with ``CLASSROOM``,
  ``ASSIGNMENT``, ``SUBMISSION_TAG``, ``OWNER``, ``ASSIGNMENT_TYPE``, ``COMMIT_URL``, ``RELEASE_URL``,
  ``REVIEW_URL``, ``CLASSROOM50_BUNDLE_DIR`` and the ``GITHUB_*`` variables; an exit other than 0 is an
  infrastructure error (0/0, no Release). ``fetch_bundle``: the folder ``CLASSROOM/autograders/ASSIGNMENT/``
  arrives as a tar.gz from the classroom's GitHub Pages site, at most 10 MB (``MAX_FETCH_BYTES``).
- The wiki page, "Operational notes": the grade job stops after 15 minutes, setting up included. "The
  ``runtime`` block": ``runs-on`` (a label or a list, self-hosted GPU runners included), ``python``, or a
  public ``container`` image. The Pages site serves the folder to anyone: what it holds is public.
- The result's own rules: ``classroom50_result.py``.

Points are whole numbers: one test entry per part of the assignment (a test file) with points, its
``max-score`` and ``score`` the part's points and earned points apportioned (``whole_points``) so that they
sum to the rubric's total and to the grade, each rounded, and never a score above its maximum
(``validate_result`` refuses a test scored over its maximum).

Hidden tests: the autograder folder is public, so it never holds them. ``build`` refuses a pack with hidden
tests unless the course says how they are graded instead (``HIDDEN_STAFF``: by the course, with ``lora-grader
grade`` on the collected repositories), and then grades the public tests alone, each worth what it is worth
in the whole suite (``rubric.toml``), out of the public tests' points.
"""

import ast
import json
import shlex
import shutil
from collections import defaultdict
from pathlib import Path

from grader import layout
from grader.assignments.pack import Pack
from grader.authoring import release
from grader.grading.outputs import feedback_md, shortened, write_folder
from grader.grading.result import GradeResult
from grader.grading.rubric import Rubric
from grader.platforms import classroom, gradescope
from grader.platforms.classroom50_result import RELEASE_BODY_CHARS, document, identity

AUTOGRADER = "autograder.py"
RUNTIME = "runtime.json"
RUBRIC = "rubric.toml"
HIDDEN_STAFF = "staff"  # build(hidden=...): the hidden tests are left out, and graded by the course
MESSAGE_CHARS = 1_000  # of one failed test's message in a group's entry
GROUP_MESSAGE_CHARS = 8_000
GRADER_SECONDS = 600  # the grader's limit per submission: of the job's 15 minutes, 5 are left to set up and write


def whole_points(earned: list[float], maxima: list[float]) -> list[tuple[int, int]]:
    """Each part's (score, max-score) in whole points: each its value rounded down or up, the scores summing to the
    grade rounded, the maxima to the total rounded (as ``classroom.apportion``), and no score above its maximum.

    Largest remainders first, as ``apportion``; a score's extra point goes first where it fits under its maximum
    rounded down, then where its maximum can take the point it would be given anyway. So a part's maximum may be
    one point apart between two students where the rubric's parts are fractions (never where they are whole)."""
    floor = [int(value + 1e-9) for value in earned]
    score, cap = floor[:], [int(value + 1e-9) for value in maxima]
    need, spare = classroom.rounded(sum(earned)) - sum(score), classroom.rounded(sum(maxima)) - sum(cap)
    fractions = [i for i in sorted(range(len(earned)), key=lambda i: floor[i] - earned[i])
                 if earned[i] - floor[i] > 1e-9]
    for under_cap in (True, False):
        for i in fractions:
            if need and score[i] == floor[i] and (score[i] < cap[i] if under_cap else spare and maxima[i] > cap[i]):
                if not under_cap:
                    cap[i], spare = cap[i] + 1, spare - 1
                score[i], need = score[i] + 1, need - 1
    for i in sorted(range(len(maxima)), key=lambda i: cap[i] - maxima[i]):
        if spare and maxima[i] - cap[i] > 1e-9:
            cap[i], spare = cap[i] + 1, spare - 1
    return list(zip(score, cap, strict=True))


def group_message(tests) -> str:
    """What the failed tests of a group found, each shortened; a hidden one only counted."""
    shown = [f"{test.name}: {shortened(test.output.strip(), MESSAGE_CHARS)}"
             for test in tests if test.status == "failed" and not test.hidden]
    hidden = sum(test.status == "failed" and test.hidden for test in tests)
    if hidden:
        shown.append(f"{hidden} hidden test(s) failed: their details are not shown.")
    return shortened("\n\n".join(shown), GROUP_MESSAGE_CHARS)


def tests_of(graded: GradeResult, parts: dict[str, str]) -> list[dict]:
    """One entry per part of the assignment (a test file) with points, in the rubric's order: its name, whether all
    its tests passed, its integer points, and the failures' messages."""
    files: dict[str, list] = defaultdict(list)
    for test in graded.tests:
        files[test.name.partition("::")[0]].append(test)
    order = list(parts)  # the rubric's
    names = sorted((file for file, tests in files.items() if sum(test.max_score for test in tests) > 0),
                   key=lambda file: (order.index(file) if file in order else len(order), file))
    maxima = [sum(test.max_score for test in files[file]) for file in names]
    earned = [sum(test.score for test in files[file]) for file in names]
    entries = []
    for file, (score, cap) in zip(names, whole_points(earned, maxima), strict=True):
        tests = files[file]
        passed = all(test.status == "passed" for test in tests)
        entry = {"test-name": f"{parts.get(file, file)} ({file})", "passed": passed, "score": score, "max-score": cap,
                 "tests": len(tests), "tests-passed": sum(test.status == "passed" for test in tests)}
        if not passed:
            entry["message"] = group_message(tests)
        entries.append(entry)
    return entries


def result(graded: GradeResult, parts: dict[str, str], env: dict) -> dict:
    """The submission's ``result.json`` (``classroom50_result``'s rules), its identity from ``env``."""
    who = identity(env, graded.context.get("assignment", "local"), graded.name)
    return document(who, tests_of(graded, parts))


def release_body(graded: GradeResult, points: dict) -> str:
    """The Release's notes: the student's feedback.md under the whole points, cut to a size GitHub takes."""
    heading = f"# lora-grader: {points['score']} / {points['max-score']}\n\n"
    return heading + shortened(feedback_md(graded), RELEASE_BODY_CHARS - len(heading) - 200)


def test_functions(source: str | None) -> int:
    return 0 if source is None else sum(isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
                                        for node in ast.parse(source).body)


def hidden_count(assignment: Pack) -> int:
    """How many hidden test functions the pack's suite holds (those of a wholly hidden file too)."""
    sources = [path.read_text(encoding="utf-8") for path in sorted(assignment.suite.glob("test_*.py"))]
    return sum(test_functions(source) - test_functions(release.public_source(source)) for source in sources)


class HiddenTestsError(ValueError):
    """The folder would publish hidden tests."""


def public_rubric(assignment: Pack) -> tuple[str, float]:
    """``rubric.toml`` for the public suite: each public test function worth what its cases are in the whole suite
    (so the public grade is the whole grade less the hidden tests), and its total."""
    shares = release.points(Rubric.of_pack(assignment), assignment)["tests"]
    functions: dict[str, float] = defaultdict(float)
    for test_id, share in shares.items():
        file, _, name = test_id.rpartition("/")[2].partition("::")
        functions[f"{file}::{name.split('[')[0]}"] += share
    lines = ["# The public tests' points, as in the whole suite: written by `lora-grader classroom50`.", "[points]"]
    lines += [f'"{group}" = {points!r}' for group, points in sorted(functions.items())]
    return "\n".join(lines) + "\n", sum(functions.values())


AUTOGRADER_PY = '''\
"""Classroom 50's autograder for @TITLE@, written by `lora-grader classroom50`.

Classroom 50's runner.py runs this file with no arguments in the student's checkout. It grades the
checkout's @MODULE@ (or its notebook) with the lora-grader beside this file, writes ./result.json and
./release-body.md and the status lines, and exits 0 whatever happened: a submission that cannot be
graded, or a grader that cannot start, still gets a result, 0 points and the reason.

LORA_GRADER_PYTHON: an interpreter with the grader's dependencies (a container image, a self-hosted
runner); without it, a virtual environment is made on the job's first use (the CPU build of torch).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = Path.cwd()
MODULE = @MODULE_REPR@
NAME = @NAME_REPR@
ASSIGNMENT = @SPEC_REPR@
OPTIONS = @OPTIONS@
MAX_SCORE = @MAX_SCORE@
TORCH = ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]


def load_result_module():
    """The grader's classroom50_result.py, the standard library alone: it writes the result even when nothing
    else of the grader can run."""
    path = HERE / "grader" / "platforms" / "classroom50_result.py"
    spec = importlib.util.spec_from_file_location("classroom50_result", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grader_python() -> str:
    given = os.environ.get("LORA_GRADER_PYTHON")
    if given:
        return given
    home = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "lora-grader-venv"
    python = home / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *TORCH], check=True)
        subprocess.run([*pip, "-r", str(HERE / "requirements.txt")], check=True)
    return str(python)


def submission() -> Path:
    for name in (f"{MODULE}.py", f"{MODULE}.ipynb"):
        if (CHECKOUT / name).is_file():
            return CHECKOUT / name
    return CHECKOUT  # neither: graded as it is, for 0 and the reason


def grade(out: Path) -> None:
    command = [grader_python(), "-m", "grader", "grade", str(submission()), "--single", "--out", str(out),
               "--format", "classroom50", "--no-report", "--quiet", "--jobs", "1", "--assignment", ASSIGNMENT,
               *OPTIONS]
    run = subprocess.run(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace")
    print(run.stdout[-20000:])
    found = sorted(out.glob("*/result.json"))
    if not found:
        raise RuntimeError(f"the grader wrote no result (exit status {run.returncode}):\\n{run.stdout[-3000:]}")
    for name in ("result.json", "release-body.md"):
        shutil.copy(found[0].parent / name, CHECKOUT / name)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lora-grader-") as out:
        try:
            grade(Path(out))
        except BaseException:
            written = load_result_module()
            result, body = written.failure(os.environ, NAME, CHECKOUT.name, MAX_SCORE,
                                           traceback.format_exc()[-4000:])
            written.write(CHECKOUT, result, body)
            written.announce(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

README = """\
# @TITLE@ on Classroom 50

Written by `lora-grader classroom50`. This folder is the assignment's autograder: put it in the
classroom's `classroom50` repository as `CLASSROOM/autograders/ASSIGNMENT/` (the folder's contents, with
`autograder.py` at its top), and copy `runtime.json` into the assignment's `runtime` (`gh teacher
assignment add ... --runtime runtime.json`, or the web form's advanced settings).

Each submission: Classroom 50's runner runs `python autograder.py` in the student's checkout; on its
first run the job installs the CPU build of torch and the grader's dependencies (about a minute), then
grades `@MODULE@.py` (or `@MODULE@.ipynb`) within @SECONDS@ s, and writes `result.json` (@MAX_SCORE@ points),
`release-body.md` (the student's feedback) and the status line. A runner image that has them already
(a container, a self-hosted GPU runner): set `LORA_GRADER_PYTHON` to its interpreter.

This folder is public (the classroom's GitHub Pages site serves it) and holds no reference solution.
@HIDDEN@
"""

HIDDEN_NOTE = """
**Hidden tests are not here.** The assignment has @COUNT@ hidden tests; they were left out, since anything in
this folder can be read by anyone. The autograder grades the public tests alone, each worth what it is worth
in the whole suite (`rubric.toml`): @MAX_SCORE@ of @TOTAL@ points. Grade the hidden tests yourself, with the
whole pack, on the collected repositories (`lora-grader grade REPOS --assignment @NAME@`): a token the
student's workflow could use to fetch them would be readable by the student, who can edit that workflow.
"""


def runtime() -> dict:
    """The assignment's ``runtime`` block: a GitHub-hosted Linux runner and the project's oldest Python."""
    return {"runs-on": "ubuntu-latest", "python": release.python_version()}


def filled(text: str, values: dict) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    return text


def build(out: Path, assignment: Pack, hidden: str | None = None) -> None:
    """Write ``assignment``'s autograder folder to ``out`` (a folder that does not exist yet, or an empty one).

    The pack's hidden tests are never written: with any, ``hidden`` must be ``HIDDEN_STAFF`` (the course grades
    them itself) or a ``HiddenTestsError`` says why it is refused."""
    count = hidden_count(assignment)
    if count and hidden != HIDDEN_STAFF:
        raise HiddenTestsError(
            f"assignment {assignment.name} has {count} hidden tests, and Classroom 50 serves the autograder's folder "
            "on the classroom's public GitHub Pages site: written there, their source would be public. Give "
            f"--hidden-tests {HIDDEN_STAFF} to leave them out (the autograder then grades the public tests alone; "
            "the course grades the hidden ones with `lora-grader grade`)")
    write_folder(out, lambda folder: fill(folder, assignment, count))


def fill(folder: Path, assignment: Pack, hidden: int) -> None:
    for included in gradescope.INCLUDED:
        source = layout.ROOT / included
        if source.is_dir():  # not the held-out reviews students' adapters are scored on: this folder is public
            shutil.copytree(source, folder / included,
                            ignore=shutil.ignore_patterns("__pycache__", "make_*", "heldout"))
        elif source.exists():
            (folder / included).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / included)
    suite = folder / assignment.suite.relative_to(layout.ROOT)
    suite.mkdir(parents=True)
    for path in sorted(assignment.suite.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name.startswith("test_"):
            source = release.public_source(source)
        if source is not None:
            (suite / path.name).write_text(source, encoding="utf-8")
    for path in (assignment.spec_file, assignment.contract):
        target = folder / path.relative_to(layout.ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    total = Rubric.of_pack(assignment).total
    options = ["--timeout", str(GRADER_SECONDS)]
    max_points = total
    if hidden:
        text, max_points = public_rubric(assignment)
        (folder / RUBRIC).write_text(text, encoding="utf-8")
        options += ["--rubric", RUBRIC]
    values = {"TITLE": assignment.title, "MODULE": assignment.module, "MODULE_REPR": repr(assignment.module),
              "SPEC_REPR": repr(assignment.spec_in_checkout),
              "NAME_REPR": repr(assignment.name), "OPTIONS": repr(options),
              "MAX_SCORE": classroom.rounded(max_points), "SECONDS": GRADER_SECONDS, "TOTAL": f"{total:g}",
              "COUNT": hidden, "NAME": shlex.quote(assignment.name)}
    values["HIDDEN"] = filled(HIDDEN_NOTE, values) if hidden else ""
    (folder / AUTOGRADER).write_text(filled(AUTOGRADER_PY, values), encoding="utf-8")
    (folder / "README.md").write_text(filled(README, values), encoding="utf-8")
    (folder / RUNTIME).write_text(json.dumps(runtime(), indent=2) + "\n", encoding="utf-8")
    (folder / "requirements.txt").write_text(layout.requirements(extra=assignment.requires), encoding="utf-8")
