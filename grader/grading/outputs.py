"""Write what grading found, for people: the summary sentences, feedback.md, grades.csv, the summary table.

(``results.json``, the grader's own file, is written and read by ``result.py``.)

- ``notes``: the sentences about a submission as a whole.
- ``feedback.md``: what a student reads: the score, each failed test's rule and what
  was found, and anything about the submission itself (files left out, notebook
  cells that raised, a run the grader had to stop).
- ``grades.csv``: one row per submission, one column per test, for spreadsheets.

Every file is written to a temporary name and renamed, so a crash never leaves half a file.
What a submission controls (its import error, a notebook cell's) is shortened to ``NOTE_CHARS``
keeping both ends (``shortened``); ``budget.fit`` then holds all the texts of one grade within a
size that keeps every file per student under 1 MiB.
"""

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

from grader.grading.result import GradeResult

FEEDBACK = "feedback.md"
GRADES = "grades.csv"
GRADES_COLUMNS = ("name", "score", "max_score", "source")
NOTE_CHARS = 10_000  # of a summary sentence: a traceback's start (where) and end (what) both fit
CELLS_SHOWN = 20  # notebook cells that raised, each in a sentence of its own
FILES_NAMED = 20  # of the files left out beside the module


def shortened(text: str, limit: int) -> str:
    """``text`` at most about ``limit`` characters: its start and its end, and how much was left out between."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 5, limit * 3 // 5  # the end holds the exception: keep more of it
    return f"{text[:head]}\n[... {len(text) - head - tail:,} characters left out ...]\n{text[-tail:]}"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(temporary, path)


def write_folder(out: Path, fill, error: type[Exception] = FileExistsError) -> None:
    """Make the folder ``out`` whole or not at all: ``fill(scratch)`` writes it in a scratch folder beside ``out``,
    which is then renamed; ``out`` may not exist yet or be empty (else ``error``)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise error(f"{out} already exists and is not an empty folder; choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        fill(scratch)
        if out.exists():
            out.rmdir()
        scratch.rename(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def summary_sentences(module_problem, ignored, run) -> list[str]:
    """Sentences about the submission as a whole, for the student."""
    found = []
    if module_problem:
        found.append(f"Nothing could be graded: {module_problem}.")
    if ignored:
        named = ", ".join(f"`{f}`" for f in ignored[:FILES_NAMED]) + (
            f" and {len(ignored) - FILES_NAMED} more" if len(ignored) > FILES_NAMED else "")
        found.append(f"Only the module was graded; these files were left out: {named}.")
    if run is not None:
        error = run.loaded.import_error
        if error:
            found.append("Importing the submission failed, so every test failed:"
                         f"\n\n```\n{shortened(error, NOTE_CHARS)}\n```")
        cells = run.loaded.cell_errors
        for cell in cells[:CELLS_SHOWN]:
            found.append("A notebook cell raised (what it defines is missing; the other cells still count):"
                         f"\n\n```\n{shortened(cell, NOTE_CHARS)}\n```")
        if len(cells) > CELLS_SHOWN:
            found.append(f"{len(cells) - CELLS_SHOWN} more cells raised; the first {CELLS_SHOWN} are shown.")
        if run.worker_lost:
            found.append("The grading worker running this submission was lost (killed or stopped answering); "
                         "tests not finished by then earn nothing.")
        if run.stopped:
            found.append(f"The grader stopped the submission: {run.stopped} (the limit: {run.limit}). "
                         "Tests not finished by then earn nothing.")
        elif run.exit_code not in (0, 1, None) and len(run.reports) < len(run.collected):
            found.append(f"The test process ended early (exit status {run.exit_code}); "
                         "the tests it did not finish earn nothing.")
    return found


def containment_line(extra: dict) -> str:
    """Which layers contained the run, as the test process reported applying them."""
    layers = extra.get("containment") or {}
    if not layers:
        return "Containment: not reported (the test process never started)."
    held = [f"{name} ({state})" for name, state in layers.items() if state]
    missing = [name for name, state in layers.items() if not state]
    tree = {"cgroup": "a control group", "cgroup2": "a version 2 control group",
            "polled": "the grader's polling"}.get(extra.get("tree_limits"), "?")
    if extra.get("tree_polled"):
        tree += f" ({' and '.join(extra['tree_polled'])} limits polled)"
    line = f"Contained by: {', '.join(held) or 'nothing'}; whole process tree limited by {tree}."
    return line + (f" Not contained: {', '.join(missing)}." if missing else "")


def feedback_md(result: GradeResult) -> str:
    scores, extra = result.tests, result.context
    total, maximum = sum(s.score for s in scores), sum(s.max_score for s in scores)
    failed = [s for s in scores if s.status == "failed"]
    passed = [s for s in scores if s.status == "passed"]
    lines = [f"# {result.name}: {total:.1f} / {maximum:.0f}", "",
             f"Graded on {extra['device']} with torch {extra['torch']} and transformers {extra['transformers']}; "
             f"{len(passed)} of {len(scores)} tests passed.", "", containment_line(extra), ""]
    lines += [f"{sentence}\n" for sentence in result.summary]
    if failed:
        lines += [f"## Failed ({len(failed)})", ""]
        for s in failed:
            lines.append(f"### {shown_name(s)} ({s.score:g} / {s.max_score:.2f})")
            shown = ["Its details are not shown."] if s.hidden else ["```", s.output.strip(), "```"]
            lines += ["", *shown, ""]
    if passed:
        lines += [f"## Passed ({len(passed)})", ""] + [f"- {shown_name(s)}" for s in passed] + [""]
    return "\n".join(lines)


def shown_name(test) -> str:
    """A test's name as a student reads it: a hidden one only by its file (its name and parameters would tell
    what it checks, and with which inputs)."""
    return f"A hidden test of {test.name.partition('::')[0]}" if test.hidden else test.name


def csv_text(header: list[str], rows) -> str:
    """A CSV file's text: ``header``, then ``rows``; the one writer of every CSV the grader makes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def grades_csv(results: dict[str, GradeResult]) -> str:
    """``name, score, max_score, source`` and one column per test."""
    tests = sorted({t.name for r in results.values() for t in r.tests})
    rows = []
    for name in sorted(results):
        result = results[name]
        per_test = {t.name: t.score for t in result.tests}
        rows.append([name, result.score, result.max_score, result.context.get("source", ""),
                     *(per_test.get(test, "") for test in tests)])
    return csv_text([*GRADES_COLUMNS, *tests], rows)


def merge_grades(paths: list[Path]) -> tuple[str, int]:
    """The grades.csv files of several shards as one, in the order one run would write it."""
    rows, tests = {}, set()
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or tuple(reader.fieldnames[:4]) != GRADES_COLUMNS:
                raise KeyError(f"{path} has no {', '.join(GRADES_COLUMNS)} columns")
            tests.update(reader.fieldnames[4:])
            rows.update({row["name"]: row for row in reader})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*GRADES_COLUMNS, *sorted(tests)], lineterminator="\n",
                            restval="")
    writer.writeheader()
    for name in sorted(rows):
        writer.writerow(rows[name])
    return out.getvalue(), len(rows)


def summary_table(results: dict[str, GradeResult]) -> str:
    """The table printed after a batch: one line per submission."""
    rows = [("submission", "score", "passed", "time", "note")]
    for name in sorted(results):
        r = results[name]
        passed = sum(t.status == "passed" for t in r.tests)
        rows.append((name, f"{r.score:.1f}/{r.max_score:g}", f"{passed}/{len(r.tests)}", f"{r.seconds:.1f}s", r.note))
    return text_table(rows)


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of text as aligned columns, the first row a header underlined with dashes."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
