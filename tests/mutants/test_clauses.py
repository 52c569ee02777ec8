"""Each pack's clause table covers every sentence of its contract's graded names, with tests and mutants that exist.

That each row's broken mutants are rejected by the row's tests is checked where the verdicts
are, in ``test_suite_verdicts.py`` (lora-bert) and ``test_pack_mutants.py`` (the others); the
correct variants a row names are among those that must earn full marks there.
"""

from collections import Counter

import pytest

from grader.assignments.pack import available
from grader.grading.rubric import suite_groups

from . import clauses, mutants

PACKS = [pytest.param(found, id=found.name) for found in available()]


def suite_tests(found) -> set[str]:
    """The suite's test functions, each by ``test_file.py::name`` (the groups a rubric may name), and by its name
    alone where one file has it."""
    qualified = {group for group in suite_groups(found.suite) if "::" in group}
    bare = Counter(name.partition("::")[2] for name in qualified)
    return qualified | {name for name, files in bare.items() if files == 1}


@pytest.mark.parametrize("found", PACKS)
def test_every_sentence_of_the_graded_names_has_one_row(found):
    sentences, rows = clauses.load(found)
    expected = [(clause.name, clause.sentence) for clause in sentences]
    found_rows = [(clause.name, clause.sentence) for clause in rows]
    assert expected, f"no sentence read from {found.contract}"
    assert [row for row in expected if row not in found_rows] == [], "sentences of ASSIGNMENT.md with no row"
    assert [row for row in found_rows if row not in expected] == [], "rows quoting no sentence of ASSIGNMENT.md"
    assert len(found_rows) == len(set(found_rows)), "a sentence with two rows"


@pytest.mark.parametrize("found", PACKS)
def test_every_row_names_existing_tests_and_at_least_one_mutant(found):
    _, rows = clauses.load(found)
    module = mutants.of_pack(found)
    tests, known = suite_tests(found), {mutant.name for mutant in module.BROKEN + module.CORRECT}
    for row in rows:
        assert row.tests and set(row.tests) <= tests, (row.sentence, sorted(set(row.tests) - tests))
        assert row.mutants and set(row.mutants) <= known, (row.sentence, sorted(set(row.mutants) - known))
    broken = {mutant.name for mutant in module.BROKEN}
    assert all(set(row.mutants) & broken or "not graded" in row.sentence for row in rows), \
        "a row whose only mutants are correct variants, for a sentence that does not leave something free"


def test_a_test_name_two_files_share_must_name_its_file():
    """``test_the_handouts_figure`` is in three files of finetuning-methods: a row naming it bare could be satisfied by
    the wrong file's test, so the reader takes ``file::name`` and the row check matches it exactly."""
    row = clauses.Clause("x", "y", tests=("test_counting.py::test_the_handouts_figure",))
    assert row.has_failing_test({"test_counting.py::test_the_handouts_figure"})
    assert not row.has_failing_test({"test_make_lora.py::test_the_handouts_figure"})
    assert clauses.Clause("x", "y", tests=("test_the_handouts_figure",)).has_failing_test(
        {"test_make_lora.py::test_the_handouts_figure"})
