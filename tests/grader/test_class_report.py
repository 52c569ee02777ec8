"""The class report: its figures, recomputed here from grades.csv and the results files, and its page."""

import csv
import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from grader import cli
from grader.analysis import class_report, item_analysis
from grader.assignments.pack import find
from grader.grading.rubric import Rubric, part_titles
from grader.layout import ROOT

from ..warm_grader import grader

LORA_BERT = find("lora-bert")

EXAMPLES = LORA_BERT.examples


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The bundled examples graded as the README's first command grades them."""
    out = tmp_path_factory.mktemp("graded")
    run = grader("grade", EXAMPLES, "--out", out, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "report.html" in run.stdout
    return out


@pytest.fixture(scope="module")
def grades(graded) -> list[dict]:
    return read_csv(graded / "grades.csv")


@pytest.fixture(scope="module")
def statuses(graded) -> dict[str, dict[str, str]]:
    """Each submission's status per test, from its results.json."""
    return {path.parent.name: {t["name"]: t["status"] for t in json.loads(path.read_text())["tests"]}
            for path in graded.glob("*/results.json")}


def test_every_submission_has_the_score_of_grades_csv(graded, grades):
    students = read_csv(graded / class_report.STUDENTS_CSV)
    assert [(s["name"], float(s["score"])) for s in students] == [(g["name"], float(g["score"])) for g in grades]
    titles = part_titles(Rubric.load())
    for student, row in zip(students, grades, strict=True):
        for part in set(titles.values()):
            earned = sum(float(row[test]) for test in row if titles.get(test.partition("::")[0]) == part)
            assert float(student[part]) == pytest.approx(earned, abs=1e-3), (student["name"], part)


def test_the_distribution_is_that_of_grades_csv(graded, grades):
    scores = [float(row["score"]) for row in grades]
    text = (graded / class_report.MARKDOWN).read_text()
    q1, median, q3 = np.percentile(scores, [25, 50, 75])
    assert f"# Class report: {len(scores)} submissions" in text
    assert (f"mean {statistics.fmean(scores):.1f}, median {median:.1f}, quartiles {q1:.1f} and {q3:.1f}, "
            f"lowest {min(scores):.1f}, highest {max(scores):.1f}") in text
    page = (graded / class_report.HTML).read_text()
    assert f"<b>{statistics.fmean(scores):.1f}</b><span>mean" in page
    assert f"<b>{median:.1f}</b><span>median" in page


def test_each_test_has_its_pass_rate_points_lost_and_discrimination(graded, grades, statuses):
    rows = read_csv(graded / class_report.TESTS_CSV)
    assert {row["test"] for row in rows} == set(grades[0]) - {"name", "score", "max_score", "source"}
    by_name = {g["name"]: g for g in grades}
    for row in rows:
        test = row["test"]
        passed = [statuses[name][test] == "passed" for name in sorted(statuses)]
        assert int(row["passed"]) == sum(passed) and int(row["submissions"]) == len(grades)
        scores = [float(by_name[name][test]) for name in sorted(statuses)]
        assert float(row["points_lost"]) == pytest.approx(sum(float(row["points"]) - s for s in scores), abs=1e-3)
        rest = [float(by_name[name]["score"]) - s for name, s in zip(sorted(statuses), scores, strict=True)]
        if len(set(passed)) == 1:
            assert row["discrimination"] == ""
        else:
            assert float(row["discrimination"]) == pytest.approx(np.corrcoef(passed, rest)[0, 1], abs=1e-3)
    lost_per_part = {}
    for row in rows:
        lost_per_part[row["part"]] = lost_per_part.get(row["part"], 0) + float(row["points_lost"])
    assert list(lost_per_part.values()) == sorted(lost_per_part.values(), reverse=True), "most-lost part first"


def test_failure_reasons_count_every_failure_once(graded, statuses):
    counted = {}
    for row in read_csv(graded / class_report.REASONS_CSV):
        counted[row["test"]] = counted.get(row["test"], 0) + int(row["submissions"])
    failures = {}
    for tests in statuses.values():
        for test, status in tests.items():
            failures[test] = failures.get(test, 0) + (status != "passed")
    assert counted == {test: count for test, count in failures.items() if count}


def test_the_page_is_self_contained_and_links_each_feedback(graded, grades):
    page = (graded / class_report.HTML).read_text()
    outside = [link for link in re.findall(r'(?:src|href)="([^"]*)"', page)
               if not link.startswith(("data:image/png;base64,", "#")) and not link.endswith("/feedback.md")
               and link != "similarity.html"]
    assert outside == []
    assert "<link" not in page and "@import" not in page
    for row in grades:
        name = row["name"]
        assert f'<a href="{name}/feedback.md">{name}</a></td><td class="num">{float(row["score"]):.1f}</td>' in page
        assert (graded / name / "feedback.md").is_file()


def test_a_run_gone_wrong_is_listed_to_look_at(tmp_path):
    """A submission stopped by a limit and one that does not import are both named, with what happened."""
    for name, note, score in (("ok", "", 100.0), ("slow", "timed out", 20.0), ("broken", "import failed", 0.0)):
        write_results(tmp_path / name, score, note, [("test_merge.py::test_a", "passed" if score else "failed")])
    assert cli.main(["report", str(tmp_path)]) == 0
    page = (tmp_path / class_report.HTML).read_text()
    listed = re.search(r'id="problems">.*?</table>', page, re.S).group(0)
    assert "slow</a></td><td>timed out" in listed and "broken</a></td><td>import failed" in listed
    assert ">ok<" not in listed


def test_a_run_stopped_by_a_limit_is_listed_with_the_option_that_set_it(tmp_path):
    write_results(tmp_path / "filler", 0.0, "disk full", [("test_merge.py::test_a", "failed")],
                  limit="--disk 64 MB")
    assert cli.main(["report", str(tmp_path)]) == 0
    listed = re.search(r'id="problems">.*?</table>', (tmp_path / class_report.HTML).read_text(), re.S).group(0)
    assert "filler</a></td><td>disk full (the limit: --disk 64 MB)</td>" in listed
    assert "- filler: disk full (the limit: --disk 64 MB)" in (tmp_path / class_report.MARKDOWN).read_text()


def test_one_student_is_enough(tmp_path):
    write_results(tmp_path / "solo", 50.0, "", [("test_merge.py::test_a", "passed"),
                                                 ("test_merge.py::test_b", "failed")])
    report = class_report.write(tmp_path)
    assert report.distribution == {"count": 1, "mean": 50.0, "median": 50.0, "q1": 50.0, "q3": 50.0,
                                   "min": 50.0, "max": 50.0}
    assert "data:image/png;base64," in (tmp_path / class_report.HTML).read_text()


def test_report_of_a_folder_with_nothing_graded_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no graded submission" in capsys.readouterr().err


def test_point_biserial_is_the_textbook_formula():
    """r_pb = (M1 - M0) / s * sqrt(p q), s the population deviation of the scores: the item-analysis formula."""
    passed = [True, True, False, True, False, False, True]
    scores = [9.0, 7.5, 3.0, 8.0, 6.0, 2.0, 4.0]
    ones = [s for s, p in zip(scores, passed, strict=True) if p]
    zeros = [s for s, p in zip(scores, passed, strict=True) if not p]
    p = len(ones) / len(scores)
    expected = (statistics.fmean(ones) - statistics.fmean(zeros)) / statistics.pstdev(scores) * (p * (1 - p)) ** 0.5
    assert item_analysis.point_biserial(passed, scores) == pytest.approx(expected)
    assert item_analysis.point_biserial([True, True], [1.0, 2.0]) is None


@pytest.mark.parametrize("first, second", [
    ("merge: W + scaling * (A @ B).T\n  expected: within 1e-6\n  found:    largest difference 0.169",
     "merge: W + scaling * (A @ B).T\n  expected: within 1e-6\n  found:    largest difference 0.325"),
    ("found: trainable: bert.embeddings.LayerNorm.bias, bert.embeddings.word_embeddings.weight, ... (41 in all)",
     "found: trainable: distilbert.embeddings.LayerNorm.bias, distilbert.x.weight, ... (39 in all)"),
    ("    def f():\n>       raise NotImplementedError('add_lora is not implemented yet')\n"
     "E       NotImplementedError: add_lora is not implemented yet\n\nlora_bert.py:156: NotImplementedError",
     "E       NotImplementedError: add_lora is not implemented yet"),
    ("NameError: name 'model' is not defined", "NameError: name 'trainer' is not defined"),
])
def test_the_same_mistake_is_one_reason(first, second):
    assert item_analysis.reason(first) == item_analysis.reason(second)


def test_different_mistakes_stay_apart():
    assert item_analysis.reason("expected: B == 0\nfound: 18 non-zero entries") != \
        item_analysis.reason("expected: ValueError\nfound: no error")


def write_results(folder: Path, score: float, note: str, tests: list[tuple[str, str]], limit: str = "") -> None:
    folder.mkdir(parents=True)
    entries = [{"name": name, "score": 10.0 if status == "passed" else 0.0, "max_score": 10.0, "status": status,
                "output": "" if status == "passed" else "expected: 1\nfound: 2"} for name, status in tests]
    results = {"score": score, "tests": entries, "extra_data": {"max_score": 100.0, "note": note, "limit": limit}}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "feedback.md").write_text("# feedback\n")


def test_the_quick_start_shows_the_grades_the_examples_get_now(graded):
    """The README shows what ``make grade`` printed in a fresh clone (``bench/quickstart.py``, kept in
    bench/results.json); the examples graded here must get the same scores and passed tests, or the README is stale
    (``python bench/quickstart.py``, then ``make readme``). ``scaling_alpha``'s score hangs on the CPU's
    floating-point kernels (the quick start says so) and is compared by its presence alone."""
    printed = json.loads((ROOT / "bench" / "results.json").read_text())["quickstart"]["printed"]
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-----")) + 1
    shown = {line.split()[0]: line.split()[1:3] for line in lines[start:] if line.strip()
             if not line.startswith("results.json")}
    now = {}
    for path in sorted(graded.glob("*/results.json")):
        result = json.loads(path.read_text())
        passed = sum(test["status"] == "passed" for test in result["tests"])
        now[path.parent.name] = [f"{result['score']:.1f}/{result.get('max_score', 100):g}",
                                 f"{passed}/{len(result['tests'])}"]
    assert shown.keys() == now.keys()
    assert {name: row for name, row in shown.items() if name != "scaling_alpha"} == \
        {name: row for name, row in now.items() if name != "scaling_alpha"}


def test_the_report_guides_commands_run_on_the_quick_starts_folder(graded):
    """``report graded`` and ``similarity examples/lora-bert --out graded``, as the class report's guide writes them,
    on the folder the quick start's ``make grade`` makes (its ``graded`` is this test's)."""
    from ..project.test_docs import COMMANDS, grader_arguments

    guide = [grader_arguments(words) for where, words in COMMANDS if where.startswith("docs/staff/report.md")]
    assert [arguments[0] for arguments in guide] == ["report", "similarity"]
    for arguments in guide:
        written = [str(graded) if word == "graded" else str(ROOT / word) if word.startswith("examples/") else word
                   for word in arguments]
        assert cli.main(written) == 0, arguments
    assert (graded / class_report.HTML).is_file() and (graded / "similarity.html").is_file()
    assert "similarity.html" in (graded / class_report.HTML).read_text()


def test_an_honest_run_writes_nothing_on_disk(graded):
    """The correct examples leave their home as they found it (the grading guide says so, and the floor of --disk,
    cli.MIN_DISK_MB, assumes it): nothing written, one entry counted, the home itself."""
    for name in ("correct", "correct_notebook"):
        extra = json.loads((graded / name / "results.json").read_text())["extra_data"]
        assert (extra["peak_disk_mb"], extra["peak_disk_files"]) == (0.0, 1), name
