"""What the README's quick start and a student's first run print, and how long they take, on a fresh clone.

    python bench/quickstart.py

Clones this repository's last commit into a temporary folder and there runs ``make grade``
twice (the first sets up ``.venv``), keeps what the grader printed, the beginning of one
student's ``feedback.md`` and what ``lora-grader doctor`` prints, then writes the student
bundle (``lora-grader release``) and runs ``pytest`` in it on the untouched template, as a
student's first try. The figures
and the printed text go into ``bench/results.json`` (``bench/record.py``): the README and the
docs show them from there (``docs/hooks.py``, ``cog``), never typed.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record  # bench/record.py: this script's folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1"}
SHOWN_STUDENT = "nothing_frozen"  # a typical mistake, whose feedback the quick start shows


def run(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=OFFLINE, capture_output=True, text=True)
    return time.perf_counter() - started, done


def grader_output(make_stdout: str) -> str:
    """What the grader printed: make's stdout after it echoes the grade command (the set-up's lines before it)."""
    lines = make_stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.search(r"-m grader grade ", line)) + 1
    return "\n".join(lines[start:])


def feedback_head(text: str) -> str:
    """The feedback up to the end of its first failed test: the title, how it was graded, the first rule broken."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("### "))
    opening = next(i for i in range(first + 1, len(lines)) if lines[i].startswith("```"))
    fence = next(i for i in range(opening + 1, len(lines)) if lines[i] == lines[opening])
    return "\n".join(lines[:fence + 1])


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="lora-grader-quickstart-"))
    clone = work / "clone"
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        first_s, first = run(["make", "grade"], clone)
        if first.returncode != 0:
            sys.exit(f"make grade failed in a fresh clone:\n{first.stdout}\n{first.stderr}")
        again_s, again = run(["make", "grade"], clone)
        feedback = (clone / "graded" / SHOWN_STUDENT / "feedback.md").read_text(encoding="utf-8")
        python = str(clone / ".venv" / "bin" / "python")
        _, doctor = run([python, "-m", "grader", "doctor"], clone)
        subprocess.run([python, "-m", "grader", "release", str(work / "bundle")], cwd=clone, check=True,
                       capture_output=True)
        template_s, template = run([python, "-m", "pytest"], work / "bundle")
        results = {"quickstart": {
            "commit": commit,
            "make_grade_first_s": first_s, "make_grade_again_s": again_s,
            "printed": grader_output(first.stdout),
            "summary_again": next(line for line in again.stdout.splitlines() if "reused unchanged" in line),
            "feedback_head": feedback_head(feedback),
            "doctor": doctor.stdout.rstrip("\n"),
            "template_pytest": template.stdout.rstrip("\n"), "template_pytest_lines": len(template.stdout.splitlines()),
            "template_pytest_exit": template.returncode, "template_pytest_s": template_s,
        }}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record.save(results, record.machine())
    print(results["quickstart"]["printed"])
    print(f"\nmake grade: {first_s:.1f} s the first time (.venv included), {again_s:.1f} s again; "
          f"wrote {record.RESULTS}")


if __name__ == "__main__":
    main()
