"""Which submissions hold an adapter folder: found without reading anything, and without torch.

``grade`` asks this first for every class of a pack that scores adapters; only where some
submission has one does it import the scoring (torch and transformers, some 0.8 s of a cold
start), so a class without adapters costs nothing more.
"""

from pathlib import Path


def find(submission: Path, folder_name: str = "adapter") -> Path | None:
    """The adapter folder of a submission (a folder, or the folder a file sits in), if it has one."""
    root = submission if submission.is_dir() else submission.parent
    candidate = root / folder_name
    return candidate if candidate.is_dir() else None


def of_class(submissions, folder_name: str, single: bool = False) -> dict[str, Path]:
    """Submission name -> its adapter folder (``submissions``: grader.grading.submissions.Submission). In a class
    folder only a submission that is a folder holds one (a file's folder is the class's); one submission graded
    alone (``single``, as on Gradescope) may be a file beside it."""
    return {s.name: found for s in submissions
            if (single or Path(s.path).is_dir()) and (found := find(Path(s.path), folder_name))}
