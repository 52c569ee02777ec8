"""Split a class between parallel jobs: ``K/N`` given, or K and N from the job scheduler (Slurm, Kubernetes)."""

import os
import sys


class ShardError(ValueError):
    """A shard that cannot be taken: a malformed ``--shard``, or ``auto`` outside its scheduler."""


def scheduler_shard(spec: str, env) -> tuple[str, str]:
    """``auto``: K/N from a Slurm job array; ``auto/N``: K from a Kubernetes indexed Job. Also says which."""
    if spec == "auto":
        try:
            task, count = int(env["SLURM_ARRAY_TASK_ID"]), int(env["SLURM_ARRAY_TASK_COUNT"])
            first = int(env.get("SLURM_ARRAY_TASK_MIN", 0))
        except (KeyError, ValueError):
            raise ShardError("--shard auto: not in a Slurm job array (SLURM_ARRAY_TASK_ID and "
                             "SLURM_ARRAY_TASK_COUNT unset); in a Kubernetes indexed Job use --shard auto/N") from None
        return f"{task - first + 1}/{count}", f"Slurm array task {task} of {count} (first {first})"
    try:
        count = int(spec.removeprefix("auto/"))
    except ValueError:
        raise ShardError(f"--shard {spec}: expected auto/N, N the Job's completions, for example auto/4") from None
    try:
        index = int(env["JOB_COMPLETION_INDEX"])
    except (KeyError, ValueError):
        raise ShardError(f"--shard {spec}: not in a Kubernetes indexed Job (JOB_COMPLETION_INDEX unset)") from None
    return f"{index + 1}/{count}", f"Kubernetes completion index {index} of {count}"


def shard(items: list, spec: str | None, env=os.environ) -> list:
    """``K/N``: every N-th item starting at the K-th (1-based), so N jobs split a batch; ``auto`` or
    ``auto/N``: K and N from the job scheduler (``scheduler_shard``)."""
    if spec is None:
        return items
    if spec == "auto" or spec.startswith("auto/"):
        spec, source = scheduler_shard(spec, env)
        print(f"shard {spec}, from the {source}", file=sys.stderr)
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ShardError(f"--shard {spec}: expected K/N, for example 2/4, or auto (Slurm), auto/N (Kubernetes)") \
            from None
    if not 1 <= k <= n:
        raise ShardError(f"--shard {spec}: K must be between 1 and N")
    return items[k - 1::n]
