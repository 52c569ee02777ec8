"""The clause table: each sentence of ASSIGNMENT.md's graded names, the tests that check it, the mutants that break it.

``CLAUSES.md`` is written for people; this module reads it back, and reads the
sentences of the contract, so that the mutation proof can hold the table to both:
every sentence has a row, and every row's mutants are rejected by the row's tests.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from grader.layout import ROOT

CONTRACT = ROOT / "reference" / "lora-bert" / "ASSIGNMENT.md"
TABLE = Path(__file__).with_name("CLAUSES.md")
SECTION = "## Graded names"
# A sentence ends at a full stop followed by a space and a capital or a backtick, which
# the contract's code (``math.sqrt``, ``self.query``) never is.
SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z`])")


@dataclass(frozen=True)
class Clause:
    name: str  # the graded name whose heading the sentence sits under; "all" above the first
    sentence: str
    tests: tuple[str, ...] = ()
    mutants: tuple[str, ...] = ()


def contract_sentences(text: str) -> list[Clause]:
    """The sentences of the graded names section, each joined onto one line, with the name they belong to."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    name, item, items = "all", [], []

    def close_item():
        if item:
            items.append((name, " ".join(item)))
            item.clear()

    for line in section.splitlines():
        stripped = line.strip()
        if line.startswith("### "):
            close_item()
            name = re.match(r"### `(\w+)", line).group(1)
        elif not stripped or stripped.startswith("- "):
            close_item()
            if stripped:
                item.append(stripped[2:])
        else:
            item.append(stripped)
    close_item()
    return [Clause(owner, sentence) for owner, paragraph in items for sentence in SENTENCE_END.split(paragraph)]


def table_clauses(text: str) -> list[Clause]:
    """The rows of the clause table: name | sentence | tests | mutants, the last two as lists of `code`."""
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]  # after the header and its rule
    clauses = []
    for row in rows:
        name, sentence, tests, mutants = (cell.strip() for cell in row.strip("|").split(" | "))
        clauses.append(Clause(name.strip("`"), sentence.replace("\\|", "|"),
                              tuple(re.findall(r"`(\w+)`", tests)), tuple(re.findall(r"`(\w+)`", mutants))))
    return clauses


def load() -> tuple[list[Clause], list[Clause]]:
    """The contract's sentences and the table's rows."""
    return (contract_sentences(CONTRACT.read_text(encoding="utf-8")),
            table_clauses(TABLE.read_text(encoding="utf-8")))
