"""One grading worker per GPU: which GPUs the grader was given, and which one each worker gets.

``CUDA_VISIBLE_DEVICES`` is how Slurm (``--gres=gpu:N``), Kubernetes device plugins and
container runtimes hand a job its GPUs. A worker started with one entry of it sees that
GPU alone, as ``cuda:0``, so submissions graded side by side never share a device's
memory unless there are more workers than GPUs.
"""

import os


def visible(listed: str | None, count: int) -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (indices or UUIDs).

    ``listed`` is the grader's own ``CUDA_VISIBLE_DEVICES`` (None when unset) and ``count``
    what CUDA reports; CUDA ignores the entries after the first it cannot use, so only the
    first ``count`` are kept.
    """
    if listed is None:
        return [str(index) for index in range(count)]
    return [entry.strip() for entry in listed.split(",") if entry.strip()][:count]


def assign(workers: int, gpus: list[str]) -> list[str | None]:
    """Each worker's GPU, in turn; None everywhere when grading on the CPU."""
    return [gpus[index % len(gpus)] if gpus else None for index in range(workers)]


def default_jobs(device: str, gpus: list[str]) -> int:
    """One worker per GPU on ``cuda``, one per core on the CPU."""
    return len(gpus) if device == "cuda" and gpus else os.cpu_count() or 1


def describe(jobs: int, gpus: list[str]) -> str:
    """What the grader tells staff about its GPUs, on stderr."""
    listing = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''} (CUDA_VISIBLE_DEVICES={','.join(gpus)})"
    if jobs == len(gpus):
        return f"cuda: {listing}, one worker on each"
    if jobs < len(gpus):
        return f"cuda: {listing}; --jobs {jobs} uses the first {jobs}"
    return f"cuda: {listing}; the {jobs} workers (--jobs) take them in turn"
