"""Which submissions look copied from one another, beyond what the student template gives everyone.

The comparison is copydetect's (github.com/blingenf/copydetect, MIT): the winnowing
fingerprints of MOSS ("Winnowing: Local Algorithms for Document Fingerprinting",
Schleimer, Wilkerson and Aiken, 2003) over Pygments tokens, with names, strings and
comments normalised away, so renaming variables or rewording comments does not hide a
copy; the template's own fingerprints are removed as boilerplate, so two untouched
templates share nothing. Chosen over its peers: MOSS uploads every submission to a
server in the United States; JPlag and Dolos need a Java or Node runtime beside ours;
pycode-similar compares ASTs but knows no boilerplate and shows no regions. copydetect
runs in this process and gives, for each pair, the share of each file found in the
other and the matching regions, which the page shows side by side. Nothing leaves the
machine.

Every pair is first screened by the share of fingerprints it has in common (set
intersections: a class of 2,000 is 2 million pairs); copydetect's token-level
comparison then runs on the pairs that pass, most alike first.

copydetect is imported in the functions that use it: importing it imports matplotlib.pyplot
(a quarter of a second), which every ``lora-grader`` command would pay otherwise, the class
report and the command line naming this module's files.
"""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import numpy as np

from grader.analysis import pages
from grader.assignments.pack import Pack
from grader.grading.outputs import csv_text, write_atomic
from grader.grading.submissions import Submission, take_module

if TYPE_CHECKING:
    from copydetect import CodeFingerprint

HTML = "similarity.html"
CSV = "similarity.csv"
SCREEN = 0.2  # a pair with less than this share of fingerprints in common is not compared token by token
COMPARED = 500  # at most this many pairs, most alike first, are compared token by token
SHOWN = 20  # pairs shown side by side on the page
PARALLEL_FROM = 64  # files; below, starting processes costs more than it saves
CONTEXT_LINES = 4  # lines around each matching region on the page


@dataclass
class Pair:
    first: str
    second: str
    shares: tuple[float, float]  # of each one's code beyond the template, the part found in the other
    tokens: int  # tokens in common
    regions: tuple[np.ndarray, np.ndarray]  # copydetect's slices: starts and ends of the matching regions

    @property
    def similarity(self) -> float:
        """The larger share: a student who copied one function of a long file is found from the short side."""
        return max(self.shares)


def code_of(submission: Submission, names: tuple[str, ...]) -> str | None:
    """The module's code (a notebook's code cells, in order), or None when the submission has no module."""
    with tempfile.TemporaryDirectory(prefix="lora-grader-similarity-") as folder:
        module = take_module(submission, Path(folder), names)
        if module.file is None:
            return None
        return code_in(module.file)


def code_in(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8", errors="replace")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:  # not JSON, not a notebook: compare nothing rather than stop the whole class
        return ""
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def template_hashes(assignment: Pack) -> np.ndarray:
    """Every fingerprint of the pack's template, module and notebook (a window of 1 keeps them all)."""
    from copydetect import CodeFingerprint
    from copydetect.defaults import NOISE_THRESHOLD

    hashes = set()
    as_python = f"{assignment.module}.py"  # copydetect tokenizes by the suffix: a notebook's code is Python
    for name in assignment.file_names:
        code = code_in(assignment.template / name)
        hashes |= CodeFingerprint(as_python, NOISE_THRESHOLD, 1, fp=io.StringIO(code)).hashes
    return np.array(sorted(hashes), dtype=np.int64)


def fingerprint(name: str, code: str, boilerplate: np.ndarray) -> CodeFingerprint:
    from copydetect import CodeFingerprint
    from copydetect.defaults import GUARANTEE_THRESHOLD, NOISE_THRESHOLD

    window = GUARANTEE_THRESHOLD - NOISE_THRESHOLD + 1  # copydetect's own: a match this long is always found
    return CodeFingerprint(f"{name}.py", NOISE_THRESHOLD, window, boilerplate=boilerplate, fp=io.StringIO(code))


def fingerprints(codes: dict[str, str], boilerplate: np.ndarray) -> dict[str, CodeFingerprint]:
    """Each file's fingerprints; a large class on every core (Pygments' tokenising is most of the time)."""
    names = list(codes)
    if len(names) < PARALLEL_FROM:
        return {name: fingerprint(name, codes[name], boilerplate) for name in names}
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        made = pool.map(fingerprint, names, [codes[name] for name in names], itertools.repeat(boilerplate),
                        chunksize=32)
        return dict(zip(names, made, strict=True))


def screened(prints: dict[str, CodeFingerprint]) -> list[tuple[float, str, str]]:
    """The pairs worth comparing token by token: (share of fingerprints in common, first, second), most first."""
    names = sorted(prints)
    sets = [frozenset(prints[name].hashes) for name in names]
    if len(names) < PARALLEL_FROM:
        found = screen_rows(sets, range(len(names)))
    else:  # rows split among the cores, each taking every n-th first member so the work is even
        cores = os.cpu_count() or 1
        with ProcessPoolExecutor(cores) as pool:
            found = [pair for part in pool.map(screen_rows, itertools.repeat(sets),
                                               [range(k, len(names), cores) for k in range(cores)])
                     for pair in part]
    candidates = [(share, names[i], names[j]) for share, i, j in found]
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
    return candidates[:COMPARED]


def screen_rows(sets: list[frozenset], rows: range) -> list[tuple[float, int, int]]:
    """(share, i, j) for every i of ``rows`` and j > i whose shared fingerprints pass SCREEN."""
    found = []
    for i in rows:
        a = sets[i]
        if not a:
            continue
        for j in range(i + 1, len(sets)):
            b = sets[j]
            if b and (common := len(a & b)):
                share = common / min(len(a), len(b))
                if share >= SCREEN:
                    found.append((share, i, j))
    return found


def compare(prints: dict[str, CodeFingerprint]) -> list[Pair]:
    """The pairs with code in common beyond the template, most alike first."""
    from copydetect import compare_files

    pairs = []
    for _, first, second in screened(prints):
        tokens, shares, regions = compare_files(prints[first], prints[second])
        if tokens:
            pairs.append(Pair(first, second, (float(shares[0]), float(shares[1])), int(tokens), regions))
    pairs.sort(key=lambda pair: (-pair.similarity, -pair.tokens, pair.first, pair.second))
    return pairs


def side_by_side(pair: Pair, codes: dict[str, str]) -> tuple[str, str]:
    """Both files as HTML with the matching regions marked, long stretches between them cut."""
    from copydetect.utils import highlight_overlap

    shown = []
    for name, regions in ((pair.first, pair.regions[0]), (pair.second, pair.regions[1])):
        marked, _ = highlight_overlap(codes[name], regions, "<mark>", "</mark>", truncate=CONTEXT_LINES,
                                      escape_html=True)
        shown.append(marked)
    return shown[0], shown[1]


def pairs_csv(pairs: list[Pair]) -> str:
    return csv_text(["first", "second", "similarity", "share_of_first", "share_of_second", "tokens_in_common"],
                    ([pair.first, pair.second, round(pair.similarity, 4), round(pair.shares[0], 4),
                      round(pair.shares[1], 4), pair.tokens] for pair in pairs))


def html(pairs: list[Pair], codes: dict[str, str], empty: list[str], missing: list[str], compared: int) -> str:
    shown = [(pair, *side_by_side(pair, codes)) for pair in pairs[:SHOWN]]
    return pages.render("similarity.html.j2", pairs=pairs, shown=shown, count=len(codes), compared=compared,
                        empty=empty, missing=missing, screen=SCREEN)


def run(submissions: list[Submission], out: Path, assignment: Pack) -> list[Pair]:
    """Compare every pair of ``submissions`` beyond ``assignment``'s template; write similarity.html and
    similarity.csv into ``out``."""
    codes = {s.name: code for s in submissions if (code := code_of(s, assignment.file_names)) is not None}
    missing = [s.name for s in submissions if s.name not in codes]
    prints = fingerprints(codes, template_hashes(assignment))
    empty = sorted(name for name, fingerprint in prints.items() if not fingerprint.hashes)
    pairs = compare(prints)
    compared = len(codes) * (len(codes) - 1) // 2
    write_atomic(out / HTML, html(pairs, codes, empty, missing, compared))
    write_atomic(out / CSV, pairs_csv(pairs))
    return pairs
