"""PrairieLearn external grading: the results file it reads, and a question that grades with this grader.

What PrairieLearn's documentation (docs/externalGrading.md) asks, and so what is written here:

- The job's ``entrypoint`` finds the student's files in ``/grade/student`` and must write
  ``/grade/results/results.json`` (creating ``/grade/results``, which does not exist).
- ``score``, a float in [0.0, 1.0], is the only field a gradable result needs. ``gradable:
  false`` marks a submission "invalid, not gradable": no points awarded or lost, no attempt
  used, and ``format_errors`` (a string or a list of strings) says why. Here that is a
  submission with no module, one that does not import (the documentation's own example is a
  syntax error), and one whose run the grader lost: none of them a test's verdict.
- ``message``, ``output`` and ``tests: [{name, description, points, max_points, message,
  output}]`` are what ``<pl-external-grader-results>`` shows.
- The file "should be limited to 1 MB": messages are shortened to fit ``MAX_BYTES``, keeping
  their start and their end (a traceback's last line says what went wrong).
- ``info.json``'s ``externalGradingOptions``: ``enabled``, ``image`` (required), ``entrypoint``
  (an absolute path; a file under ``/grade`` is made executable first), ``serverFilesCourse``
  (copied to ``/grade/serverFilesCourse``), ``timeout`` (seconds, at most 600),
  ``enableNetworking`` (off by default; the grader needs none).
"""

import json
import shutil
import stat
import uuid
from pathlib import Path

from grader import layout
from grader.assignments.pack import Pack
from grader.grading.outputs import shortened
from grader.grading.result import GradeResult
from grader.grading.rubric import part_of
from grader.platforms import gradescope

RESULTS = "prairielearn.json"  # next to the grader's own results.json; the entrypoint copies it to /grade/results
MAX_BYTES = 1_000_000
MESSAGE_CHARS = 4_000
JOB_TIMEOUT = 600  # PrairieLearn's most
GRADER_TIMEOUT = 480  # the grader's own wall-clock limit per submission: room left for starting and writing
FOLDER = "lora_grader"  # in the course's serverFilesCourse
QUESTION = "loraBert"
IMAGE = "COURSE/lora-grader:latest"  # built from the bundle's Dockerfile and pushed by the course


def results(graded: GradeResult, parts: dict[str, str]) -> dict:
    """One submission's result as PrairieLearn's results.json; each test described by its part."""
    maximum = graded.max_score or 1.0
    note = graded.note
    output = "\n\n".join(graded.summary)
    document = {
        "gradable": graded.outcome.gradable,
        "score": round(min(max(graded.score / maximum, 0.0), 1.0), 6),
        "message": f"{graded.score:g} / {maximum:g} points." + (f" {note}." if note else ""),
        "output": output,
        "tests": [{
            "name": test.name,
            "description": part_of(test.name, parts),
            "points": test.score,
            "max_points": test.max_score,
            "message": "" if test.status == "passed" else
                       "A hidden test: its details are not shown." if test.hidden else
                       shortened(test.output, MESSAGE_CHARS),
            "output": "",
        } for test in graded.tests],
    }
    if not document["gradable"]:
        document["format_errors"] = [shortened(f"{note}: {output}".strip(), MESSAGE_CHARS)]
    return fitted(document)


def fitted(document: dict) -> dict:
    limit = MESSAGE_CHARS
    while len(json.dumps(document).encode()) > MAX_BYTES and limit > 40:
        limit //= 2
        document["output"] = shortened(document["output"], limit * 10)
        for test in document["tests"]:
            test["message"] = shortened(test["message"], limit)
    return document


ENTRYPOINT = f"""\
#!/usr/bin/env bash
# PrairieLearn runs this in the grading container: grade /grade/student, write /grade/results/results.json.
# GRADE_ROOT and PYTHON exist for trying it elsewhere.
set -uo pipefail
GRADE=${{GRADE_ROOT:-/grade}}
PYTHON=${{PYTHON:-python3}}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d)
mkdir -p "$GRADE/results"
cd "$HERE"
if "$PYTHON" -m grader grade "$GRADE/student" --single --out "$OUT" --format prairielearn --no-report --quiet \\
        --assignment @SPEC@ --jobs 1 --timeout {GRADER_TIMEOUT} --cpu-time {GRADER_TIMEOUT} --memory container \\
        2> "$OUT/stderr"; then
    cp "$OUT/student/{RESULTS}" "$GRADE/results/results.json"
else
    # the grader itself failed: not the student's doing, so not gradable (no attempt used)
    "$PYTHON" - "$OUT/stderr" > "$GRADE/results/results.json" <<'PY'
import json, sys
error = open(sys.argv[1], encoding="utf-8", errors="replace").read()[-4000:]
print(json.dumps({{"gradable": False, "score": 0.0, "message": "The grader failed; nothing was graded.",
                  "format_errors": ["grader error: " + error]}}))
PY
fi
"""

QUESTION_HTML = """\
<pl-question-panel>
  <p>Upload your <code>@MODULE@</code> (the module you wrote from the template). It is graded by the same
  tests as the bundle's, and hidden ones.</p>
  <pl-file-upload file-names="@MODULE@"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""

DOCKERFILE = """\
# The grading image: Python, the CPU build of torch and the grader's dependencies. The grader itself (with
# the hidden tests) comes from serverFilesCourse at grading time, so the image can be public.
FROM python:3.11-slim
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cpu \\
 && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
"""

README = f"""\
# @TITLE@ on PrairieLearn

Written by `lora-grader prairielearn`. Copy into the course repository:

- `serverFilesCourse/{FOLDER}/`: the grader, the suite with its hidden tests, the tiny models
  and the data (no reference solution); `run.sh` is the job's entrypoint.
- `questions/{QUESTION}/`: the question (`info.json` with `externalGradingOptions`,
  `question.html` with a file upload for `@MODULE@`).

Build the image from `Dockerfile` (Python 3.11, the CPU build of torch, the grader's
dependencies from `requirements.txt`), push it where the course's graders can pull it, and put its name in
`info.json`'s `externalGradingOptions.image` (now `{IMAGE}`). The job has no network and
{JOB_TIMEOUT} seconds (PrairieLearn's most); the grader stops a submission after
{GRADER_TIMEOUT}. A submission with no module, one that does not import, or one the grader could
not finish is "not gradable": PrairieLearn takes no points and uses no attempt.
"""


def info_json(assignment: Pack) -> dict:
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"lora-grader/prairielearn/{assignment.name}")),
        "title": assignment.title,
        "topic": "LoRA",
        "tags": ["lora-grader"],
        "type": "v3",
        "gradingMethod": "External",
        "singleVariant": True,
        "externalGradingOptions": {
            "enabled": True,
            "image": IMAGE,
            "serverFilesCourse": [f"{FOLDER}/"],
            "entrypoint": f"/grade/serverFilesCourse/{FOLDER}/run.sh",
            "timeout": JOB_TIMEOUT,
            "enableNetworking": False,
        },
    }


def filled(text: str, assignment: Pack) -> str:
    """``text`` with the pack's module file, title and spec (relative to the grader's folder) put in."""
    return (text.replace("@MODULE@", assignment.file_names[0]).replace("@TITLE@", assignment.title)
            .replace("@SPEC@", assignment.spec_in_checkout))


def build(out: Path, assignment: Pack) -> None:
    """The course files of ``assignment``: serverFilesCourse/lora_grader (grader, the pack's suite and spec, models,
    data, run.sh; never its reference) and the question."""
    if out.exists():
        raise FileExistsError(f"{out} exists: give a folder that does not")
    grader = out / "serverFilesCourse" / FOLDER
    for source in (*(layout.ROOT / included for included in gradescope.INCLUDED), assignment.suite,
                   assignment.spec_file, assignment.contract):
        target = grader / source.relative_to(layout.ROOT)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "make_*"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    entrypoint = grader / "run.sh"
    entrypoint.write_text(filled(ENTRYPOINT, assignment))
    entrypoint.chmod(entrypoint.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    question = out / "questions" / QUESTION
    question.mkdir(parents=True)
    (question / "info.json").write_text(json.dumps(info_json(assignment), indent=2) + "\n")
    (question / "question.html").write_text(filled(QUESTION_HTML, assignment))
    (out / "Dockerfile").write_text(DOCKERFILE)
    (out / "requirements.txt").write_text(layout.requirements(extra=assignment.requires))
    (out / "README.md").write_text(filled(README, assignment))
