"""A pack's clause table: each sentence of its contract's graded names, the tests that check it, the mutants that
break it.

The table (the spec's ``clauses``: ``CLAUSES.md`` for lora-bert) is written for people;
this module reads it back, and reads the sentences of the contract, so that the mutation
proof can hold the table to both: every sentence has a row, every row's broken mutants are
rejected by the row's tests, and a correct variant a row names (for a sentence that leaves
something free, "its return value is not graded") is accepted.
"""

import re
from dataclasses import dataclass

from grader.assignments.pack import Pack

SECTION = "## Graded names"
# A sentence ends at a full stop followed by a space and a capital or a backtick, which
# the contract's code (``math.sqrt``, ``self.query``) never is.
TEST = re.compile(r"`([\w.]+(?:::\w+)?)`")  # `test_name` or `test_file.py::test_name`
SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z`])")


@dataclass(frozen=True)
class Clause:
    name: str  # the graded name whose heading the sentence sits under; "all" above the first
    sentence: str
    tests: tuple[str, ...] = ()  # test functions, ``test_file.py::test_function`` where two files share a name
    mutants: tuple[str, ...] = ()

    def has_failing_test(self, failed: set[str]) -> bool:
        """Whether one of the row's tests is among ``failed`` (``test_file.py::test_function``, without parameters)."""
        return any(test in failed or any(name.endswith("::" + test) for name in failed) for test in self.tests)


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
        clauses.append(Clause(name.strip("`"), sentence.replace("\\|", "|"), tuple(TEST.findall(tests)),
                              tuple(re.findall(r"`(\w+)`", mutants))))
    return clauses


def load(pack: Pack) -> tuple[list[Clause], list[Clause]]:
    """The pack's contract's sentences and its table's rows."""
    return (contract_sentences(pack.contract.read_text(encoding="utf-8")),
            table_clauses(pack.clauses.read_text(encoding="utf-8")))
