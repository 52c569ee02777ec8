"""Assignment packs: specs checked against the published schema, listed, chosen with --assignment, and read as data."""

import json
import shutil

import pytest

from grader import cli
from grader.assignments import pack
from grader.layout import ROOT

from ..mutants import mutants
from ..pack_copy import pack_copy
from ..warm_grader import grader

PACKS = pack.available()


@pytest.mark.parametrize("found", PACKS, ids=lambda p: p.name)
def test_every_pack_is_whole_where_its_spec_says(found):
    assert found.folder == ROOT / "reference" / found.name
    for path in (found.reference, found.contract, found.suite, found.examples, found.clauses):
        assert path.exists(), path
    assert all((found.template / name).is_file() for name in found.file_names), found.template
    module = mutants.of_pack(found)
    reference = found.reference.read_text()
    for mutant in module.BROKEN + module.CORRECT:  # each edit matches the reference once, or this raises
        mutant.apply(reference)
    assert module.BROKEN and all(mutant.caught_by for mutant in module.BROKEN)


def test_the_command_line_lists_each_pack_a_line_each(capsys):
    assert cli.main(["assignments"]) == 0
    shown = capsys.readouterr().out.splitlines()
    for found in PACKS:
        (line,) = [line for line in shown if line.split()[:1] == [found.name]]
        assert f"{found.module}.py" in line and found.conventions["scaling"] in line


def test_a_spec_that_breaks_the_schema_is_an_error_naming_the_field(tmp_path, capsys):
    folder = pack_copy(tmp_path / "typo", {'scaling = "alpha / rank"': 'scaling = "alpha/rank"'})
    with pytest.raises(pack.PackError, match=r"conventions\.scaling: 'alpha/rank' is not one of"):
        pack.find(folder)
    assert cli.main(["grade", str(ROOT / "examples" / "lora-bert"), "--out", str(tmp_path / "out"),
                     "--assignment", str(folder)]) == 2
    assert "conventions.scaling" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_pack_whose_requirements_are_missing_is_not_graded(tmp_path, capsys):
    folder = pack_copy(tmp_path / "needs", {'formats = ["py", "ipynb", "zip"]':
                                            'formats = ["py", "ipynb", "zip"]\nrequires = ["pytest>=1", '
                                            '"surely-not-a-package-here>=1", "torch<1"]'})
    assert pack.find(folder).missing() == ["surely-not-a-package-here>=1", "torch<1"]
    assert cli.main(["grade", str(ROOT / "examples" / "lora-bert"), "--out", str(tmp_path / "out"),
                     "--assignment", str(folder)]) == 2
    assert "needs surely-not-a-package-here>=1, torch<1: pip install" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unknown_assignment_names_the_packs_there_are(tmp_path, capsys):
    assert cli.main(["release", str(tmp_path / "bundle"), "--assignment", "lora-bret"]) == 2
    error = capsys.readouterr().err
    assert "no assignment 'lora-bret'" in error and all(found.name in error for found in PACKS)


def test_the_scaling_is_read_from_the_pack_not_written_in_the_tests(tmp_path):
    """The same suite, told by its pack that the update is scaled by alpha: the example that scales by alpha passes
    the LoRALayer's tests and the reference fails them, through the grader's own workspace (which carries the
    spec)."""
    folder = pack_copy(tmp_path / "by-alpha", {'scaling = "alpha / rank"': 'scaling = "alpha"'})
    submissions = tmp_path / "class"
    submissions.mkdir()
    shutil.copy(pack.find("lora-bert").reference, submissions / "reference.py")
    shutil.copy(ROOT / "examples" / "lora-bert" / "scaling_alpha.py", submissions / "by_alpha.py")
    run = grader("grade", submissions, "--out", tmp_path / "out", "--assignment", folder, "--quiet", "--no-report",
                 "--seed", "0", "--public")
    assert run.returncode == 0, run.stderr

    def lora_layer_failures(name: str) -> set[str]:
        tests = json.loads((tmp_path / "out" / name / "results.json").read_text())["tests"]
        return {t["name"].partition("::")[2].split("[")[0] for t in tests
                if "test_lora_layer.py" in t["name"] and t["status"] == "failed"}

    assert lora_layer_failures("by_alpha") == set()
    assert {"test_scaling_follows_the_convention", "test_forward_formula"} <= lora_layer_failures("reference")
