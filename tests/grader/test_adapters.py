"""Students' adapters read as data and scored (grader/adapters): the reference's trained adapter ranks above an
untrained one, which ranks above a deliberately worse one; the scores are the reference's own evaluation; every
bad adapter is refused with its sentence, and nothing in an adapter folder is ever executed."""

import csv
import importlib
import io
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import torch
from safetensors.torch import load_file, save_file

from grader import cli
from grader.adapters import folders, leaderboard, reading
from grader.adapters.reading import AdapterError
from grader.adapters.scoring import Scorer
from grader.assignments.pack import find
from grader.grading.rubric import Rubric, RubricError
from grader.grading.scoring import EXTRA_CREDIT
from grader.layout import ROOT, TINY_MODELS

from .. import module_file
from ..warm_grader import grader

MODEL = TINY_MODELS / "bert-tiny"
LORA_BERT = find("lora-bert")


made = module_file.load("example_adapters", ROOT / "examples" / "adapters.py")  # the adapters the docs measure
base_model, worse = made.base_model, made.worse


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    """The reference's adapter before and after its own training, and its accuracy on the test split."""
    root = tmp_path_factory.mktemp("adapters")
    test, own_accuracy = made.reference_adapters(root)
    return root, test, own_accuracy


def test_the_ranking_and_the_baseline(adapters, tmp_path):
    root, test, own_accuracy = adapters
    base = base_model()
    scorer = Scorer(base, test)
    scores = {name: scorer.score(reading.read(root / name, base)).accuracy for name in ("trained", "untrained")}
    scores["worse"] = scorer.score(reading.read(worse(root / "trained", tmp_path / "worse"), base)).accuracy
    assert scores["trained"] == pytest.approx(own_accuracy)  # folded into the grader's model: the same predictions
    assert scores["trained"] > scores["untrained"] > scores["worse"], scores
    assert scorer.score(None).accuracy == scores["untrained"]  # B = 0 and the head as initialised: the base model


def test_an_adapter_peft_saved_scores_as_peft_computes(adapters, tmp_path):
    """peft's own save_pretrained (its modules_to_save lists classifier and score, as it does for any sequence
    classifier), with LoRA's B drawn at random: the grader's folded model gives the logits peft's model gives."""
    from peft import LoraConfig, TaskType, get_peft_model

    _, test, _ = adapters
    model = get_peft_model(base_model(), LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8,
                                                    target_modules=["query", "value"]))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.save_pretrained(tmp_path / "peft")
    model.eval()
    with torch.no_grad():
        expected = torch.cat([model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
                              for b in test])
    base = base_model()
    found = Scorer(base, test).logits(reading.read(tmp_path / "peft", base))
    assert torch.allclose(found, expected, atol=1e-5), (found - expected).abs().max()


def broken(trained: Path, folder: Path, *, config=None, tensors=None, files=()) -> Path:
    """A copy of the trained adapter with its config changed by ``config(dict)``, its tensors by ``tensors(dict)``,
    and ``files`` (name -> bytes) added."""
    shutil.copytree(trained, folder)
    if config:
        settings = json.loads((folder / reading.CONFIG).read_text())
        config(settings)
        (folder / reading.CONFIG).write_text(json.dumps(settings))
    if tensors:
        weights = load_file(folder / reading.WEIGHTS)
        tensors(weights)
        save_file(weights, folder / reading.WEIGHTS)
    for name, data in dict(files).items():
        (folder / name).write_bytes(data)
    return folder


class _WritesCanary:
    """Unpickled, it would write the canary: proof that a pickle file was never opened."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "unpickled"))


def code_that_writes(path: Path) -> bytes:
    return f"open({str(path)!r}, 'w').write('imported')\n".encode()


def lying_header(folder: Path) -> None:
    """The weights file's header claims a tensor's bytes run past the end of the file."""
    path = folder / reading.WEIGHTS
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    name = next(key for key in header if key != "__metadata__")
    begin, _ = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin, len(data) * 2]
    header[name]["shape"] = [(len(data) * 2 - begin) // 4]
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length:])


def nan_in(tensors: dict) -> None:
    name = next(key for key in tensors if key.endswith("lora_B.weight"))
    tensors[name][0, 0] = float("nan")


def wider_rank(tensors: dict) -> None:
    for key in [key for key in tensors if ".lora_A." in key]:
        tensors[key] = torch.zeros(tensors[key].shape[0] * 2, tensors[key].shape[1])


BAD = {
    "pickle": (dict(files={"adapter_model.bin": b""}), "is a pickle file, which can run any code"),
    "remote code": (dict(config=lambda c: c.update(auto_map={"AutoModel": "modeling_evil.Evil"})),
                    "asks to load code (auto_map)"),
    "another base model": (dict(config=lambda c: c.update(target_modules=["q_lin", "v_lin"])),
                           "name no linear layer of the assignment's base model"),
    "an unknown head": (dict(config=lambda c: c.update(modules_to_save=["score"])),
                        "unexpected base_model.model.classifier.bias"),
    "wrong shapes": (dict(tensors=wider_rank), "wrong shapes"),
    "a missing tensor": (dict(tensors=lambda t: t.pop(next(iter(t)))), "missing base_model.model."),
    "NaN weights": (dict(tensors=nan_in), "holds NaN or infinite values"),
    "not LoRA": (dict(config=lambda c: c.update(peft_type="PREFIX_TUNING")), "not \"LORA\""),
    "a rank that is no number": (dict(config=lambda c: c.update(r="8")), "has r '8'"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_adapter_is_refused_with_its_reason(adapters, tmp_path, kind):
    root, *_ = adapters
    changes, sentence = BAD[kind]
    folder = broken(root / "trained", tmp_path / "adapter", **changes)
    with pytest.raises(AdapterError, match=sentence.replace("(", r"\(").replace(")", r"\)")):
        reading.read(folder, base_model())


def test_a_header_that_lies_and_a_file_over_the_cap_are_refused(adapters, tmp_path):
    root, *_ = adapters
    folder = broken(root / "trained", tmp_path / "lies")
    lying_header(folder)
    with pytest.raises(AdapterError, match="header lies about"):
        reading.read(folder, base_model())
    with pytest.raises(AdapterError, match=r"over the cap of 0\.001 MB"):
        reading.read(root / "trained", base_model(), max_megabytes=0.001)


def test_nothing_in_an_adapter_folder_is_executed(adapters, tmp_path, monkeypatch):
    """A pickle that writes a canary when unpickled, and a config whose auto_map names a module in the folder that
    writes another when imported: both refused, neither canary written, even with the folder on the import path;
    then each canary is shown to work."""
    root, *_ = adapters
    unpickled, imported = tmp_path / "unpickled.txt", tmp_path / "imported.txt"
    pickled = broken(root / "trained", tmp_path / "pickled",
                     files={"adapter_model.bin": pickle.dumps(_WritesCanary(str(unpickled)))})
    (pickled / reading.WEIGHTS).unlink()  # as peft leaves it when it falls back to torch.save
    coded = broken(root / "trained", tmp_path / "coded", files={"modeling_evil.py": code_that_writes(imported)},
                   config=lambda c: c.update(auto_map={"AutoModel": "modeling_evil.Evil"}))
    monkeypatch.syspath_prepend(str(coded))
    for folder in (pickled, coded):
        with pytest.raises(AdapterError):
            reading.read(folder, base_model())
    assert not unpickled.exists() and not imported.exists()
    pickle.loads((pickled / "adapter_model.bin").read_bytes())
    importlib.import_module("modeling_evil")
    assert unpickled.exists() and imported.exists()  # the canaries work: had anything been run, they would be there


def test_a_submission_without_an_adapter_has_none(tmp_path):
    (tmp_path / "lora_bert.py").write_text("x = 1\n")
    assert folders.find(tmp_path / "lora_bert.py") is None
    (tmp_path / "adapter").mkdir()
    assert folders.find(tmp_path / "lora_bert.py") == tmp_path / "adapter"


def test_finding_adapters_needs_no_torch_in_the_graders_own_process():
    """``grade`` looks for adapter folders before it imports the scoring: a class without adapters leaves the grader's
    own process without torch (0.8 s of each cold start; the workers import it apart)."""
    code = ("import sys\nfrom grader import cli\nfrom grader.adapters import folders\n"
            "print(sorted(name for name in ('torch', 'transformers') if name in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr


EXTRA = "[extra]\nadapter = [[0.8, 3], [0.45, 1]]\n"  # 3 points from 0.8 (ann, eve), 1 from 0.45


@pytest.fixture(scope="module")
def class_with_adapters(adapters, tmp_path_factory):
    """A class graded with its adapters: the reference's trained, untrained and worse adapters, a pickle whose
    unpickling would write a canary, the trained adapter beside a module that kills its process at import, and a
    submission with no adapter. The modules are the template (the adapters do not depend on them) but one. The
    roster gives ann and cat pseudonyms; the rubric is the pack's with extra credit for the adapter."""
    root, *_ = adapters
    tmp = tmp_path_factory.mktemp("leaderboard")
    template = (LORA_BERT.template / "lora_bert.py").read_text()
    folder, out, canary = tmp / "class", tmp / "graded", tmp / "unpickled.txt"

    def student(name: str, code: str, adapter: Path | None) -> None:
        (folder / name).mkdir(parents=True)
        (folder / name / "lora_bert.py").write_text(code)
        if adapter is not None:
            shutil.copytree(adapter, folder / name / "adapter")

    pickled = broken(root / "trained", tmp / "pickled",
                     files={"adapter_model.bin": pickle.dumps(_WritesCanary(str(canary)))})
    (pickled / reading.WEIGHTS).unlink()
    for name, code, adapter in (("ann", template, root / "trained"), ("ben", template, root / "untrained"),
                                ("cat", template, worse(root / "trained", tmp / "worse")), ("dan", template, pickled),
                                ("eve", "import os\nos._exit(3)\n", root / "trained"), ("fay", template, None)):
        student(name, code, adapter)
    (tmp / "roster.csv").write_text("submission,pseudonym,email\nann,Quiet Heron,ann@example.org\n"
                                    "cat,Red Fox,cat@example.org\nben,,ben@example.org\n")
    (tmp / "rubric.toml").write_text("[points]\n" + "".join(f'"{group}" = {points}\n' for group, points
                                                            in LORA_BERT.points.items()) + EXTRA)
    run = grader("grade", folder, "--out", out, "--quiet", "--pseudonyms", tmp / "roster.csv", "--rubric",
                 tmp / "rubric.toml", env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    results = {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/results.json")}
    return results, (out / leaderboard.CSV).read_text(), canary, root, out


def test_a_class_is_ranked_by_its_adapters_and_nothing_of_them_runs(class_with_adapters):
    results, table, canary, _, out = class_with_adapters
    public = {name: result["leaderboard"][0]["value"] for name, result in results.items() if "leaderboard" in result}
    assert set(public) == {"ann", "ben", "cat", "eve"}  # fay has none; dan's was refused
    assert public["ann"] == public["eve"] > public["ben"] > public["cat"], public  # eve's code never ran for it
    assert public["ann"] == pytest.approx(LORA_BERT.adapter["baseline"], abs=1e-3)  # the pack's figure: the reference
    assert results["ann"]["leaderboard"] == [{"name": "accuracy (public)", "value": public["ann"], "order": "desc"}]
    assert "was not scored" not in results["eve"]["output"]
    assert "pickle file, which can run any code" in results["dan"]["output"] and not canary.exists()
    assert "adapter" not in results["fay"]["extra_data"] and "adapter" not in results["fay"]["output"]
    assert re.search(r"accuracy 0\.\d{3} on the public held-out reviews", results["ann"]["output"])
    assert "left out" not in results["ann"]["output"]  # the adapter folder is not a file the grader ignored
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [row["name"] for row in rows] == ["Quiet Heron", "eve", "ben", "Red Fox", "dan"]  # pseudonyms where given
    assert "pseudonym" not in results["ann"]["extra_data"]["adapter"]  # no part of the grade: the folder keeps them
    assert (out / "pseudonyms.csv").read_text() == "submission,pseudonym\nann,Quiet Heron\ncat,Red Fox\n"
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4", ""] and "pickle" in rows[-1]["problem"]
    assert all(row["private"] == "" for row in rows)  # shown only with --private
    jsonschema.validate(results["ann"], json.loads((Path(__file__).with_name("gradescope_results.schema.json"))
                                                   .read_text()))


def test_extra_credit_is_the_points_of_the_highest_threshold_reached_and_counts_beyond_the_total(class_with_adapters):
    """The rubric's [extra]: a test worth nothing of the total (Gradescope's extra credit) whose points are added to
    the grade; the modules are the untouched template, so the extra credit is the whole grade."""
    results, *_ = class_with_adapters
    public = {name: result["leaderboard"][0]["value"] for name, result in results.items() if "leaderboard" in result}
    expected = {name: 3 if value >= 0.8 else 1 if value >= 0.45 else 0 for name, value in public.items()}
    assert expected["ann"] == expected["eve"] == 3 and expected["cat"] == 0, public  # the thresholds are tested
    for name, points in expected.items():
        (extra,) = [test for test in results[name]["tests"] if test["name"] == EXTRA_CREDIT]
        assert (extra["score"], extra["max_score"]) == (points, 0) and results[name]["score"] == points, name
        assert (f"Extra credit: accuracy {public[name]:.3f} on the public held-out split: {points:g} extra point(s) "
                "(the rubric's thresholds: 0.45 for 1, 0.8 for 3)") in results[name]["output"]
    assert results["ann"]["extra_data"]["max_score"] == sum(LORA_BERT.points.values())  # the rubric's total, as before
    assert not any(test["name"] == EXTRA_CREDIT for name in ("dan", "fay") for test in results[name]["tests"])


@pytest.mark.parametrize("extra, said", [
    ("[extra]\nadapter = [[0.8, 3], [0.8, 5]]\n", "one score two thresholds"),
    ("[extra]\nadapter = [[80, 3]]\n", "pairs"),
    ("[extra]\nadapter = [[0.8, 0]]\n", "pairs"),
    ("[extra]\nadaptor = [[0.8, 3]]\n", "unknown key 'adaptor' (did you mean 'adapter'?)"),
])
def test_a_rubric_whose_extra_credit_cannot_be_used_is_refused(tmp_path, extra, said):
    (tmp_path / "rubric.toml").write_text('[points]\n"test_merge.py" = 10\n' + extra)
    with pytest.raises(RubricError, match=re.escape(said)):
        Rubric.load(tmp_path / "rubric.toml", LORA_BERT.suite)


def test_without_extra_a_rubric_gives_none():
    assert Rubric.of_pack(LORA_BERT).adapter_points == () and Rubric.of_pack(LORA_BERT).adapter_extra(0.99) == 0


def test_the_private_split_is_scored_apart_when_asked_for(class_with_adapters):
    results, _, _, root, _ = class_with_adapters
    scored = leaderboard.Board(LORA_BERT.adapter, private=True).score(root / "trained")
    assert scored.public == pytest.approx(results["ann"]["leaderboard"][0]["value"], abs=1e-4) and scored.private
    assert [entry["name"] for entry in scored.leaderboard()] == ["accuracy (public)", "accuracy (private)"]


def test_the_class_report_shows_the_leaderboard_against_the_reference(class_with_adapters):
    *_, out = class_with_adapters
    page, summary = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert "Adapters' leaderboard" in page and "the reference's own adapter: 0.810" in page
    board = page[page.index('id="leaderboard"'):page.index('id="problems"')]
    assert board.index(">Quiet Heron<") < board.index(">ben<") < board.index(">Red Fox<") < board.index(">dan<")
    assert "ann" not in board and "cat/" not in board  # a pseudonym comes without the link that would name them
    assert 'alt="public score against trained parameters"' in page and "pickle file" in page
    assert "## Adapters' leaderboard (the reference's adapter: 0.810)" in summary and "Quiet Heron" in summary
    assert "extra credit" not in summary.split("## Adapters")[0]  # no part of the suite: not in the item analysis


def test_report_names_them_by_the_roster_it_is_given_or_else_by_the_one_the_folder_kept(class_with_adapters,
                                                                                         tmp_path):
    *_, out = class_with_adapters
    copy = shutil.copytree(out, tmp_path / "graded")
    (copy / "report.md").unlink()
    assert cli.main(["report", str(copy)]) == 0  # the roster grade was given, kept in the folder
    assert "Quiet Heron" in (copy / "report.md").read_text().split("## Adapters' leaderboard")[1]
    (tmp_path / "roster.csv").write_text("submission,pseudonym\nben,Blue Jay\n")
    assert cli.main(["report", str(copy), "--pseudonyms", str(tmp_path / "roster.csv")]) == 0
    board = (copy / "report.md").read_text().split("## Adapters' leaderboard")[1]
    assert "Blue Jay" in board and "Quiet Heron" not in board and "ann" in board and "ben" not in board


def test_a_new_roster_regrades_no_one_and_names_them_anew(class_with_adapters, tmp_path):
    """A pseudonym is how the leaderboard shows a student, not part of the grade: graded again with another roster,
    every result is reused, and leaderboard.csv and the report name the students by the new one."""
    *_, out = class_with_adapters
    copy = shutil.copytree(out, tmp_path / "graded")
    (tmp_path / "roster.csv").write_text("submission,pseudonym\nann,Grey Owl\n")
    run = grader("grade", out.parent / "class", "--out", copy, "--quiet", "--pseudonyms", tmp_path / "roster.csv",
                 "--rubric", out.parent / "rubric.toml", env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    assert "0 graded, 0 regraded, 6 reused unchanged" in run.stdout
    names = [row["name"] for row in csv.DictReader(io.StringIO((copy / leaderboard.CSV).read_text()))]
    assert names[0] == "Grey Owl" and "Quiet Heron" not in names and "Red Fox" not in names and "cat" in names
    board = (copy / "report.md").read_text().split("## Adapters' leaderboard")[1]
    assert "Grey Owl" in board and "Red Fox" not in board


@pytest.mark.parametrize("text, said", [
    ("submission,name\nann,Quiet Heron\n", "needs the columns submission and pseudonym"),
    ("submission,pseudonym\nann,Quiet Heron\nben,Quiet Heron\n", "given to more than one submission"),
    ("submission,pseudonym\nann,Quiet Heron\nann,Red Fox\n", "has two pseudonyms"),
    ("", "needs the columns"),
])
def test_a_roster_of_pseudonyms_that_cannot_be_used_is_refused_before_grading(tmp_path, capsys, text, said):
    (tmp_path / "roster.csv").write_text(text)
    (tmp_path / "ann.py").write_text("x = 1\n")
    code = cli.main(["grade", str(tmp_path / "ann.py"), "--out", str(tmp_path / "out"), "--pseudonyms",
                     str(tmp_path / "roster.csv")])
    assert code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was graded


def test_accuracy_and_macro_f1():
    """Where the classes are unbalanced a pack may rank by macro-F1: the mean over classes of 2 TP / (2 TP + FP +
    FN)."""
    predicted, labels = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    assert leaderboard.metric_of("accuracy", predicted, labels, 2) == 0.75
    assert leaderboard.metric_of("macro-f1", predicted, labels, 2) == pytest.approx((2 / 3 + 4 / 5) / 2)


PEFT_BERT = find("peft-bert")


@pytest.fixture(scope="module")
def peft_adapters(tmp_path_factory) -> Path:
    """peft-bert's own pipeline, as its ASSIGNMENT.md asks for an adapter, and that adapter with a head that says
    "negative" to everything (examples/adapters.py)."""
    return made.peft_adapters(tmp_path_factory.mktemp("peft-adapters"))


def test_a_pack_of_unbalanced_classes_ranks_adapters_by_macro_f1(peft_adapters):
    """peft-bert's held-out reviews have one positive in five: by accuracy, saying "negative" to everything comes
    within 0.04 of the trained adapter; by macro-F1, the pack's measure, it is far below."""
    assert PEFT_BERT.adapter["metric"] == "macro-f1"
    by_f1, by_accuracy = leaderboard.Board(PEFT_BERT.adapter), leaderboard.Board({**PEFT_BERT.adapter,
                                                                                  "metric": "accuracy"})
    trained, majority = (by_f1.score(peft_adapters / name) for name in ("trained", "majority"))
    assert trained.public == pytest.approx(PEFT_BERT.adapter["baseline"], abs=1e-3)  # the pack's figure
    assert majority.public == pytest.approx((2 * 80 / (2 * 80 + 20) + 0) / 2)  # F1 of "negative" 0.89, "positive" 0
    accuracy = {name: by_accuracy.score(peft_adapters / name).public for name in ("trained", "majority")}
    assert accuracy["majority"] == pytest.approx(0.8) and accuracy["trained"] - accuracy["majority"] < 0.1, accuracy
    assert trained.public - majority.public > 0.3


def test_a_peft_bert_submission_is_told_its_macro_f1(peft_adapters, tmp_path):
    (tmp_path / "class" / "gus").mkdir(parents=True)
    shutil.copy(PEFT_BERT.template / "peft_bert.py", tmp_path / "class" / "gus" / "peft_bert.py")
    shutil.copytree(peft_adapters / "trained", tmp_path / "class" / "gus" / "adapter")
    run = grader("grade", tmp_path / "class", "--out", tmp_path / "out", "--assignment", "peft-bert", "--quiet",
                 "--no-report", env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "out" / "gus" / "results.json").read_text())
    assert result["leaderboard"] == [{"name": "macro-f1 (public)", "value": pytest.approx(0.792, abs=1e-3),
                                      "order": "desc"}]
    assert re.search(r"macro-f1 0\.79\d on the public held-out reviews", result["output"])
