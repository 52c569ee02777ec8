"""What decided a grade, as digests: a rerun reuses a result only when every part is the same.

A result names its submission's bytes, the suite and its assets (tests, tiny models,
data), the grader's own code, the rubric, the limits, the device and whether the hidden
tests ran. Anything else would let a fixed submission keep its old grade, or a grade
made under a too-tight limit or an older reference outlive the change.
"""

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

from grader import layout


def digest_files(paths: list[Path]) -> str:
    """One digest of the files under ``paths`` (files or folders): names within each and bytes, in a stable order."""
    sha = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*")
                                                    if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            sha.update(str(path.relative_to(root)).encode() + b"\0")
            sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


@functools.cache  # the same for every submission of a batch
def grading_assets(suite: Path, spec: Path) -> str:
    """The pack's suite and spec, the suite's root files, the tiny models, the data, and the grader's own code."""
    return digest_files([suite, spec, *(layout.TESTS / name for name in layout.SUITE_ROOT_FILES),
                         layout.TINY_MODELS, layout.DATA, layout.ROOT / "grader"])


def of(submission_path: Path, settings, name: str = "") -> dict[str, str]:
    """The parts of a grade's fingerprint, each a short digest or value (``settings``: batch.Settings; ``name``:
    the submission's, whose adapter's score it holds)."""

    def short(value) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]

    return {
        "assignment": settings.pack.name,
        "submission": digest_files([submission_path])[:16],
        "source": str(submission_path),
        "assets": grading_assets(settings.pack.suite, settings.pack.spec_file)[:16],
        "rubric": short(dataclasses.asdict(settings.rubric)),  # its points and its [extra]
        "limits": short(dataclasses.asdict(settings.limits)),
        "device": settings.device,
        "hidden": str(settings.hidden),
        "adapter": short(settings.adapters[name].to_json() if name in settings.adapters else None),
    }


REASONS = {"assignment": "another assignment", "submission": "the submission changed",
           "source": "graded from another file",
           "assets": "the assignment, suite, models, data or grader changed", "rubric": "the rubric changed",
           "limits": "the limits changed", "device": "another device", "hidden": "hidden tests on or off",
           "adapter": "its adapter's score changed (or the private one is shown)"}


def stale_because(previous: dict | None, current: dict) -> str | None:
    """Why a previous result cannot stand for ``current``; None when it can."""
    if previous is None:
        return "no fingerprint (graded by an older grader)"
    changed = [REASONS[key] for key in current if previous.get(key) != current[key]]
    return ", ".join(changed) or None
