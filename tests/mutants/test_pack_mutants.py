"""The packs beside lora-bert (whose mutation proof is test_suite_verdicts.py): each broken implementation of a
pack's module is rejected by the tests it names and costs only its own part's tests (and the declared
dependencies); the correct ones and the reference score 100, the template 0. umd-lorabert is graded by
lora-bert's suite with its own conventions, lora-from-scratch by a suite of its own."""

import json
import os

import pytest

from grader.assignments.pack import Pack, available
from grader.layout import ROOT

from .. import module_file
from ..warm_grader import grader
from . import clauses, isolation, mutants
from .mutants import Mutant

PACKS = [found for found in available() if found.name != "lora-bert"]  # lora-bert's proof: test_suite_verdicts.py
attacks = module_file.load("attacks", ROOT / "examples" / "attacks.py")
FORGERIES = {name: attacks.FORGERIES[name] for name in attacks.VERDICT_FORGERIES}
PRELUDE = attacks.PRELUDE


CASES = {kind: [pytest.param(found, mutant, id=f"{found.name}-{mutant.name}")
                for found in PACKS for mutant in getattr(mutants.of_pack(found), kind)]
         for kind in ("BROKEN", "CORRECT")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(pack)``: the pack's mutants and its template, graded in one batch (once): name -> results.json."""
    done: dict[str, dict[str, dict]] = {}

    def verdicts(found: Pack) -> dict[str, dict]:
        if found.name not in done:
            folder, out = tmp_path_factory.mktemp(found.name), tmp_path_factory.mktemp(f"{found.name}-graded")
            module = mutants.of_pack(found)
            for mutant in module.BROKEN + module.CORRECT:
                (folder / f"{mutant.name}.py").write_text(mutant.apply(found.reference.read_text()))
            template = (found.template / found.file_names[0]).read_text()
            (folder / "template.py").write_text(template)
            (folder / "do_nothing.py").write_text(mutants.do_nothing(template, module.DO_NOTHING))
            for name, (_, forgery) in FORGERIES.items():  # examples/adversarial's, on this pack's template
                (folder / f"forgery_{name}.py").write_text(template + PRELUDE + forgery)
            run = grader("grade", folder, "--out", out, "--quiet", "--no-report", "--seed", "0", "--assignment",
                         found.name, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            assert run.returncode == 0, run.stderr
            done[found.name] = {path.name: json.loads((path / "results.json").read_text())
                                for path in out.iterdir() if path.is_dir()}
        return done[found.name]

    return verdicts


def failed(result: dict) -> set[str]:
    """``test_file.py::test_function`` of each failing test, without parameters."""
    return {test["name"].split("[")[0] for test in result["tests"] if test["status"] == "failed"}


@pytest.mark.parametrize("found, mutant", CASES["BROKEN"])
def test_each_broken_implementation_is_rejected_by_its_tests_and_costs_its_part_only(found, mutant: Mutant, graded):
    result = failed(graded(found)[mutant.name])
    missed = [test for test in mutant.caught_by if test not in {name.rpartition("::")[2] for name in result}]
    assert not missed, f"{mutant.description}: these tests should fail and did not: {missed}; failing: {result}"
    unguarded = [row.sentence for row in clauses.load(found)[1]
                 if mutant.name in row.mutants and not row.has_failing_test(result)]
    assert not unguarded, f"{mutant.description}: no test of these rows of {found.clauses.name} fails: {unguarded}"
    module = mutants.of_pack(found)
    (part,) = isolation.parts(found.reference.read_text(), mutant.edits, module.PART_FILES)
    elsewhere = sorted(test for test in result if not isolation.allowed(part, test, module.DEPENDENCIES))
    assert not elsewhere, f"{mutant.description} (a defect of {part}) fails tests of other parts: {elsewhere}"


@pytest.mark.parametrize("found, mutant", CASES["CORRECT"])
def test_correct_implementations_earn_full_marks(found, mutant: Mutant, graded):
    result = graded(found)[mutant.name]
    assert result["score"] == pytest.approx(100) and not failed(result), failed(result)


@pytest.mark.parametrize("found", PACKS, ids=lambda p: p.name)
def test_the_template_scores_zero(found, graded):
    result, reference = graded(found)["template"], graded(found)["reference"]
    assert result["score"] == 0 and len(result["tests"]) == len(reference["tests"])  # the whole suite ran, for 0


@pytest.mark.parametrize("found", PACKS, ids=lambda p: p.name)
def test_forged_verdicts_and_doing_nothing_earn_nothing(found, graded):
    """examples/adversarial's forgeries of a verdict, each on the pack's untouched template, and the template whose
    every part does nothing useful (its mutants module's DO_NOTHING): 0 points, the whole suite run."""
    verdicts = graded(found)
    names = [f"forgery_{name}" for name in FORGERIES] + ["do_nothing"]
    scores = {name: verdicts[name]["score"] for name in names}
    assert scores == dict.fromkeys(names, 0), scores
    assert all(len(verdicts[name]["tests"]) == len(verdicts["reference"]["tests"]) for name in names)
