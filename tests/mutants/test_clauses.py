"""The clause table covers every sentence of the contract's graded names, with tests and mutants that exist.

That each row's mutants are rejected by the row's tests is checked where the verdicts
are, in ``test_suite_verdicts.py``.
"""

import ast

from .clauses import ROOT, load
from .mutants import BROKEN

SUITE = ROOT / "tests" / "assignment"


def suite_tests() -> set[str]:
    return {node.name for path in SUITE.glob("test_*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_sentence_of_the_graded_names_has_one_row():
    sentences, rows = load()
    expected = [(clause.name, clause.sentence) for clause in sentences]
    found = [(clause.name, clause.sentence) for clause in rows]
    assert [row for row in expected if row not in found] == [], "sentences of ASSIGNMENT.md with no row"
    assert [row for row in found if row not in expected] == [], "rows quoting no sentence of ASSIGNMENT.md"
    assert len(found) == len(set(found)), "a sentence with two rows"


def test_every_row_names_existing_tests_and_at_least_one_mutant():
    _, rows = load()
    tests, mutants = suite_tests(), {mutant.name for mutant in BROKEN}
    for row in rows:
        assert row.tests and set(row.tests) <= tests, (row.sentence, sorted(set(row.tests) - tests))
        assert row.mutants and set(row.mutants) <= mutants, (row.sentence, sorted(set(row.mutants) - mutants))
