"""How the class report and the similarity ranking scale: a synthetic class, timed, the page measured.

    python bench/class_report.py                       # 2,000 students, similarity on 2,000 files
    python bench/class_report.py --students 200 --similarity 100

The class is made from the bundled examples graded for real (``examples/lora-bert``):
each synthetic student gets a skill, and each test a difficulty; a student passes a test
when the two allow it, and a failure carries the output of a real failure of that test,
its numbers changed. The similarity files are the reference with each part kept or left
as the template's stub at random and names changed: every pair shares code, the worst
case for the screening step.

The figures go into ``bench/results.json`` (``bench/record.py``), and the report's histogram of the
synthetic class into ``docs/figures/class-report.svg``, the README's picture.
"""

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import record  # noqa: E402  (bench/record.py)

from grader.analysis import class_report, similarity  # noqa: E402
from grader.assignments.pack import find  # noqa: E402
from grader.grading.submissions import discover  # noqa: E402

LORA_BERT = find("lora-bert")
PICTURE = ROOT / "docs" / "figures" / "class-report.svg"


def graded_examples(folder: Path) -> list[dict]:
    subprocess.run([sys.executable, "-m", "grader", "grade", str(LORA_BERT.examples), "--out",
                    str(folder), "--quiet"], check=True, capture_output=True, cwd=ROOT)
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*/results.json"))]


def synthetic_class(examples: list[dict], size: int, out: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    tests = examples[0]["tests"]
    failures = {t["name"]: [e["output"] for r in examples for e in r["tests"] if e["name"] == t["name"] and e["output"]]
                or ["expected: something\nfound: something else"] for t in tests}
    difficulty = {t["name"]: rng.random() for t in tests}
    for number in range(size):
        skill = rng.betavariate(9, 1.5)  # most of a class does well, a few struggle
        entries = []
        for test in tests:
            passed = rng.random() < skill ** (3 * difficulty[test["name"]])  # an easy test: nearly all pass
            output = "" if passed else re.sub(r"\d+\.\d+", lambda _: f"{rng.random():.3f}",
                                              rng.choice(failures[test["name"]]))
            entries.append({**test, "status": "passed" if passed else "failed",
                            "score": test["max_score"] if passed else 0.0, "output": output})
        note = rng.choices(["", "timed out", "import failed", "1 cell(s) raised"], [0.94, 0.02, 0.02, 0.02])[0]
        results = {"score": round(sum(e["score"] for e in entries), 2), "tests": entries,
                   "extra_data": {**examples[0]["extra_data"], "note": note}}
        folder = out / f"student_{number:04d}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(results))
        (folder / "feedback.md").write_text("# feedback\n")


def synthetic_code(size: int, out: Path, seed: int = 0) -> None:
    """The reference with each solution block kept or replaced by the template's stub, names changed."""
    rng = random.Random(seed)
    reference = (LORA_BERT.reference).read_text()
    blocks = re.split(r"(        # BEGIN SOLUTION\n.*?# END SOLUTION\n)", reference, flags=re.S)
    out.mkdir(parents=True)
    for number in range(size):
        kept = "".join(block if not block.startswith("        # BEGIN SOLUTION") or rng.random() < 0.6
                       else "        raise NotImplementedError\n" for block in blocks)
        for name in ("scaling", "rank", "model", "layer"):
            if rng.random() < 0.5:
                kept = kept.replace(name, f"{name}_{number}")
        (out / f"student_{number:04d}.py").write_text(kept)


def picture(report: class_report.ClassReport) -> None:
    """The report's histogram as text SVG, the same bytes from the same class: text left as text, ids and the
    date not random."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "lora-grader"}):
        class_report.histogram(report).savefig(PICTURE, format="svg", metadata={"Date": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--similarity", type=int, default=2000, help="files compared (0: skip)")
    args = parser.parse_args()
    machine = record.machine()
    results = {}
    work = Path(tempfile.mkdtemp(prefix="lora-grader-bench-"))
    try:
        examples = graded_examples(work / "examples")
        synthetic_class(examples, args.students, work / "class")
        started = time.perf_counter()
        report = class_report.write(work / "class")
        seconds = time.perf_counter() - started
        size = (work / "class" / class_report.HTML).stat().st_size
        results["class_report"] = {"students": len(report.students), "tests": len(examples[0]["tests"]),
                                   "seconds": seconds, "html_mb": size / 1e6}
        print(f"class report, {len(report.students)} students x {len(examples[0]['tests'])} tests: "
              f"{seconds:.1f} s, report.html {size / 1e6:.2f} MB")
        picture(report)
        if args.similarity:
            synthetic_code(args.similarity, work / "code")
            found, _ = discover([work / "code"], LORA_BERT.file_names)
            started = time.perf_counter()
            pairs = similarity.run(found, work / "similarity", LORA_BERT)
            seconds = time.perf_counter() - started
            size = (work / "similarity" / similarity.HTML).stat().st_size
            results["similarity"] = {"files": len(found), "pairs": len(found) * (len(found) - 1) // 2,
                                     "compared": len(pairs), "seconds": seconds, "html_mb": size / 1e6}
            print(f"similarity, {len(found)} files ({len(found) * (len(found) - 1) // 2} pairs): {seconds:.1f} s, "
                  f"{len(pairs)} pairs compared token by token, similarity.html {size / 1e6:.2f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record.save(results, machine)
    print(f"wrote {record.RESULTS} and {PICTURE}")


if __name__ == "__main__":
    main()
