"""Build a Gradescope autograder bundle: ``setup.sh`` and ``run_autograder`` around this grader.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build
its image, then ``run_autograder`` for each submission, whose files it puts in
``/autograder/submission``, and uploads ``/autograder/results/results.json``. The
bundle holds the grader, the suite with its hidden tests, the tiny models and the
data; not the reference solution.
"""

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from . import layout

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

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission; AUTOGRADER_ROOT and PYTHON exist for testing it elsewhere.
set -euo pipefail
ROOT=${AUTOGRADER_ROOT:-/autograder}
PYTHON=${PYTHON:-$ROOT/venv/bin/python}
OUT=$(mktemp -d)
cd "$ROOT/source"
"$PYTHON" -m grader grade "$ROOT/submission" --single --out "$OUT" --quiet --jobs 1 --no-report
mkdir -p "$ROOT/results"
cp "$OUT/submission/results.json" "$ROOT/results/results.json"
"""

INCLUDED = ("grader", *(f"tests/{name}" for name in layout.SUITE_ROOT_FILES), "tests/assignment", "tiny_models",
            "data", "pyproject.toml", "README.md", "ASSIGNMENT.md")


def build(out: Path) -> None:
    """Write the bundle to ``out`` (a .zip), with setup.sh and run_autograder at its root."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _handle, temporary = tempfile.mkstemp(dir=out.parent, suffix=".zip")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            bundle.writestr(info, text)
        for included in INCLUDED:
            path = layout.ROOT / included
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if "__pycache__" not in file.parts and not file.name.startswith("make_"):
                    bundle.write(file, file.relative_to(layout.ROOT).as_posix())
    shutil.move(temporary, out)
