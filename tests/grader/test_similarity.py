"""``lora-grader similarity``: a shared hand-written solution ranks first, untouched templates share nothing."""

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.analysis import similarity
from grader.assignments.pack import find
from grader.grading.submissions import discover

LORA_BERT = find("lora-bert")

REFERENCE = (LORA_BERT.reference).read_text()
TEMPLATE = (LORA_BERT.template / "lora_bert.py").read_text()

CAROL = '''
        # YOUR CODE HERE
        if min(in_dim, out_dim, rank) <= 0:
            raise ValueError("sizes must be positive")
        self.scaling = float(alpha) / float(rank)
        self.A = nn.Parameter(torch.randn(in_dim, rank) * 0.01)
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.drop = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # YOUR CODE HERE
        h = self.drop(x)
        return (h @ self.A) @ self.B * self.scaling
'''


def notebook(source: str, path: Path) -> None:
    """The module's ``# %%`` cells as a notebook's code cells, as a student working in Jupyter hands it in."""
    cells = [nbformat.v4.new_code_cell(cell.strip()) for cell in re.split(r"^# %%.*$", source, flags=re.M)
             if cell.strip()]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """alice wrote a solution; bob handed in the same one as a notebook, names changed; carol wrote LoRALayer
    her own way; frank took alice's solution but carol's LoRALayer; dave and erin handed in the template
    untouched, erin as the template's notebook; gus handed in notes and no module."""
    folder = tmp_path_factory.mktemp("class")
    (folder / "alice.py").write_text(REFERENCE)
    renamed = REFERENCE.replace("scaling", "factor").replace("value", "number").replace("merged", "folded")
    notebook(renamed, folder / "bob.ipynb")
    start = TEMPLATE.index("        # YOUR CODE HERE\n        raise NotImplementedError(\"LoRALayer.__init__")
    stub = "raise NotImplementedError(\"LoRALayer.forward is not implemented yet\")\n"
    end = TEMPLATE.index(stub) + len(stub)
    (folder / "carol.py").write_text(TEMPLATE[:start] + CAROL.lstrip("\n") + TEMPLATE[end:])
    start = REFERENCE.index("        # BEGIN SOLUTION\n        for name, value in")
    end = REFERENCE.index("# END SOLUTION\n", REFERENCE.index("return self.scaling * (self.dropout(x)")) + 15
    (folder / "frank.py").write_text(REFERENCE[:start] + CAROL.lstrip("\n") + REFERENCE[end:])
    (folder / "dave.py").write_text(TEMPLATE)
    (folder / "gus").mkdir()
    (folder / "gus" / "notes.txt").write_text("I ran out of time")
    (folder / "erin.ipynb").write_bytes((LORA_BERT.template / "lora_bert.ipynb").read_bytes())
    return folder


@pytest.fixture(scope="module")
def ranked(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("similarity")
    assert cli.main(["similarity", str(folder), "--out", str(out)]) == 0
    with open(out / similarity.CSV, newline="") as f:
        return out, list(csv.DictReader(f))


@pytest.mark.parametrize("name", ["carol", "frank"])
def test_the_made_up_students_wrote_python(folder, name):
    compile((folder / f"{name}.py").read_text(), f"{name}.py", "exec")


def test_the_shared_solution_ranks_first(ranked):
    _, rows = ranked
    assert (rows[0]["first"], rows[0]["second"]) == ("alice", "bob")
    assert float(rows[0]["similarity"]) > 0.9
    assert len(rows) > 2, "frank shares code with alice, bob and carol"
    keys = [(float(row["similarity"]), int(row["tokens_in_common"])) for row in rows]
    assert keys == sorted(keys, reverse=True)


def test_untouched_templates_share_nothing_and_rank_last(ranked):
    """Every listed pair shares something; dave and erin share nothing with anyone, so they are below every pair."""
    out, rows = ranked
    listed = {frozenset((row["first"], row["second"])) for row in rows}
    assert not any(pair & {"dave", "erin"} for pair in listed)
    assert all(int(row["tokens_in_common"]) > 0 for row in rows)
    assert "Nothing beyond the template in: dave, erin." in (out / similarity.HTML).read_text()


def test_a_submission_without_a_module_is_named_not_compared(ranked):
    out, rows = ranked
    assert not any("gus" in (row["first"], row["second"]) for row in rows)
    missing = "No module to compare (not the assignment's module nor its notebook) in: gus."
    assert missing in (out / similarity.HTML).read_text()


def test_the_page_shows_the_matching_regions_side_by_side(ranked):
    out, _ = ranked
    page = (out / similarity.HTML).read_text()
    first = page.split('<h2 id="pair-1">', 1)[1].split("<h2", 1)[0]
    assert "alice and bob" in first
    columns = re.findall(r"<pre>(.*?)</pre>", first, re.S)
    assert len(columns) == 2 and all("<mark>" in column for column in columns)
    assert "self.factor" in columns[1] and "self.scaling" in columns[0]
    assert not re.search(r'(?:src|href)="(?!#)', page), "the page links nothing outside itself"


def test_the_template_is_what_makes_the_difference(folder):
    """Without the template removed, two untouched templates would be a perfect match."""
    found, _ = discover([folder], LORA_BERT.file_names)
    codes = {s.name: code for s in found if (code := similarity.code_of(s, LORA_BERT.file_names)) is not None}
    kept = similarity.compare(similarity.fingerprints(codes, similarity.template_hashes(LORA_BERT)))
    unfiltered = similarity.compare(similarity.fingerprints(codes, similarity.np.array([], dtype=int)))
    assert ("dave", "erin") not in {(p.first, p.second) for p in kept}
    assert ("dave", "erin") in {(p.first, p.second) for p in unfiltered}


def test_the_report_of_a_graded_folder_links_the_ranking(folder, tmp_path):
    graded = tmp_path / "graded"
    (graded / "alice").mkdir(parents=True)
    results = {"score": 1.0, "tests": [{"name": "test_merge.py::t", "score": 1.0, "max_score": 1.0,
                                        "status": "passed", "output": ""}], "extra_data": {"max_score": 1.0}}
    (graded / "alice" / "results.json").write_text(json.dumps(results))
    assert cli.main(["report", str(graded)]) == 0
    assert 'href="similarity.html"' not in (graded / "report.html").read_text()
    assert cli.main(["similarity", str(folder), "--out", str(graded)]) == 0
    assert 'href="similarity.html"' in (graded / "report.html").read_text()


def test_a_large_class_on_every_core_ranks_as_one_process_does(folder, monkeypatch):
    found, _ = discover([folder], LORA_BERT.file_names)
    codes = {s.name: code for s in found if (code := similarity.code_of(s, LORA_BERT.file_names)) is not None}
    serial = similarity.compare(similarity.fingerprints(codes, similarity.template_hashes(LORA_BERT)))
    monkeypatch.setattr(similarity, "PARALLEL_FROM", 2)
    parallel = similarity.compare(similarity.fingerprints(codes, similarity.template_hashes(LORA_BERT)))
    assert [(p.first, p.second, p.shares, p.tokens) for p in parallel] == \
        [(p.first, p.second, p.shares, p.tokens) for p in serial]
    assert len(serial) > 2
