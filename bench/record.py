"""Where the benchmarks' figures are kept: ``bench/results.json``, each benchmark with the machine and time it was
measured on. Every script of ``bench/`` saves through here, and the docs render their figures from the file
(``docs/hooks.py``), so that a figure is measured once and typed nowhere."""

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def machine(quick: bool = False) -> dict:
    import torch

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": quick}


def save(results: dict, where: dict, out: Path = RESULTS) -> dict:
    """Merge ``results`` into ``out``: a benchmark not measured this time keeps its figures and its machine."""
    kept = json.loads(out.read_text()) if out.is_file() else {}
    places = {**kept.get("where", {}), **dict.fromkeys(results, where)}
    merged = {**{key: value for key, value in kept.items() if key in places}, **results, "where": places}
    out.write_text(json.dumps(merged, indent=2) + "\n")
    return merged
