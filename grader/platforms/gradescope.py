"""Build a Gradescope autograder bundle: ``setup.sh`` and ``run_autograder`` around this grader.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build
its image, then ``run_autograder`` for each submission, whose files it puts in
``/autograder/submission``, and uploads ``/autograder/results/results.json``. The
bundle holds the grader, the suite with its hidden tests, the tiny models and the
data; not the reference solution.

Gradescope kills the whole container at its autograder timeout (set per assignment; 10
minutes unless raised) or past its memory, and the student then gets nothing but "The
autograder failed to execute correctly". So the grader's own limits sit inside the
container's: the wall clock and CPU time ``HEADROOM_SECONDS`` under the autograder timeout
given to ``build`` (starting, importing torch and writing results take the rest), the memory
``--memory container`` (what the container's cgroup allows, less the grader's own share:
``cli.GRADER_OWN_MB``). A container too small for that is said so in results.json.
"""

import shlex
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from grader import layout
from grader.assignments.pack import Pack

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
PYTHON=$(command -v python3.12 || command -v python3.11 || true)
if [ -z "$PYTHON" ]; then
    apt-get update && apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# the CPU build of torch: Gradescope's graders have no GPU
/autograder/venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -e .
"""

# Whatever fails (the grader cannot start, a broken interpreter: exit 127), a results.json is left: without one
# Gradescope shows the student only "The autograder failed to execute correctly". That fallback is written by
# the shell alone, its reason kept to printable ASCII (valid JSON whatever the error printed).
RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission; AUTOGRADER_ROOT and PYTHON exist for testing it elsewhere.
set -uo pipefail
ROOT=${AUTOGRADER_ROOT:-/autograder}
PYTHON=${PYTHON:-$ROOT/venv/bin/python}
OUT=$(mktemp -d)
mkdir -p "$ROOT/results"
cd "$ROOT/source" && "$PYTHON" -m grader grade "$ROOT/submission" --single --out "$OUT" --quiet --jobs 1 \\
    --assignment @SPEC@ --no-report --timeout @SECONDS@ --cpu-time @SECONDS@ --memory container 2> "$OUT/errors"
status=$?
cat "$OUT/errors" >&2
if [ -f "$OUT/submission/results.json" ]; then
    cp "$OUT/submission/results.json" "$ROOT/results/results.json"
    exit 0
fi
reason=$(tail -n 20 "$OUT/errors" | tr -cd '\\11\\12\\40-\\176' | tr '\\t' ' ' | tail -c 3000 \\
    | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g' | awk '{printf "%s\\\\n", $0}')
printf '{"score": 0.0, "visibility": "visible", "tests": [], "output": "%s"}\\n' \\
    "The grader could not grade this submission (exit status $status): please tell the course staff. \\
What it said:\\n\\n$reason" > "$ROOT/results/results.json"
"""

# Besides these, the pack's spec and suite; never its reference, which students' code must not find.
INCLUDED = ("grader", *(f"tests/{name}" for name in layout.SUITE_ROOT_FILES), "tiny_models", "data", "pyproject.toml",
            "README.md")


HEADROOM_SECONDS = 120  # of the autograder timeout: the grader's start (torch, a worker) and its writing
DEFAULT_TIMEOUT = 600  # Gradescope's autograder timeout unless the assignment raises it


def run_autograder(timeout: float, assignment: Pack) -> str:
    """The script for ``assignment``, its limits inside an autograder timeout of ``timeout`` seconds."""
    if timeout <= 2 * HEADROOM_SECONDS:
        raise ValueError(f"an autograder timeout of {timeout:g} s leaves a submission no time: give at least "
                         f"{2 * HEADROOM_SECONDS + 1} s")
    return (RUN_AUTOGRADER.replace("@SECONDS@", f"{timeout - HEADROOM_SECONDS:g}")
            .replace("@SPEC@", assignment.spec_in_checkout))


def setup_sh(assignment: Pack) -> str:
    """``SETUP_SH``, then the pack's own requirements (its spec's ``requires``), if it has any."""
    if not assignment.requires:
        return SETUP_SH
    return SETUP_SH + f"/autograder/venv/bin/pip install {' '.join(map(shlex.quote, assignment.requires))}\n"


def build(out: Path, assignment: Pack, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Write the bundle of ``assignment`` to ``out`` (a .zip), with setup.sh and run_autograder at its root;
    ``timeout``: the assignment's autograder timeout on Gradescope, in seconds."""
    script = run_autograder(timeout, assignment)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _handle, temporary = tempfile.mkstemp(dir=out.parent, suffix=".zip")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", setup_sh(assignment)), ("run_autograder", script)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            bundle.writestr(info, text)
        for path in (*(layout.ROOT / included for included in INCLUDED), assignment.suite, assignment.spec_file,
                     assignment.contract):
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if "__pycache__" not in file.parts and not file.name.startswith("make_"):
                    bundle.write(file, file.relative_to(layout.ROOT).as_posix())
    shutil.move(temporary, out)
