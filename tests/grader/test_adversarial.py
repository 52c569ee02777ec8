"""The repository's adversarial submissions, graded in one batch: each gets the verdict it earns,
within its limits, and nothing any of them started is still running afterwards."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADVERSARIAL = ROOT / "examples" / "adversarial"
TIMEOUT, TEST_TIMEOUT, MEMORY_MB = 40, 5, 1500


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(ADVERSARIAL), "--out", str(out), "--quiet",
                          "--timeout", str(TIMEOUT), "--test-timeout", str(TEST_TIMEOUT), "--memory", str(MEMORY_MB)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    results = {folder.name: json.loads((folder / "results.json").read_text())
               for folder in out.iterdir() if folder.is_dir()}
    return out, results, run.stdout


def outputs(results: dict) -> str:
    return "\n".join(test["output"] for test in results["tests"])


def test_every_adversarial_submission_was_graded(graded):
    _, results, table = graded
    expected = {p.stem if p.is_file() else p.name for p in ADVERSARIAL.iterdir() if not p.name.startswith(".")}
    assert set(results) == expected
    for name in expected:
        assert name in table


@pytest.mark.parametrize("name, evidence", [
    ("syntax_error", "SyntaxError"),
    ("empty", "defines no `LoRALayer`"),
    ("exit_at_import", "SystemExit: 0"),
    ("os_exit_at_import", "the test process ended during this test"),
    ("loop_at_import", "Timeout"),
    ("patched_comparisons", "replaced torch.allclose"),
    ("forged_results", "defines no `LoRALayer`"),
    ("conftest_rewrite", "defines no `LoRALayer`"),
    ("detaching", "defines no `LoRALayer`"),
    ("megabytes_of_output", "defines no `LoRALayer`"),
    ("not_json", "not a readable notebook"),
])
def test_cheats_and_crashes_score_zero_and_say_why(graded, name, evidence):
    _, results, _ = graded
    assert results[name]["score"] == 0
    assert evidence in outputs(results[name])


def test_an_infinite_loop_times_out_test_by_test(graded):
    result = graded[1]["loop_in_forward"]
    timed_out = [t for t in result["tests"] if t["output"].startswith("timed out")]
    assert timed_out and all(t["score"] == 0 for t in timed_out)
    assert 0 < result["score"] < 20  # its LoRALayer's constructor is partly right


def test_a_memory_hog_is_stopped_as_out_of_memory(graded):
    result = graded[1]["memory_hog"]
    hogged = [t for t in result["tests"] if "count" in t["name"] and "out of memory" in t["output"]]
    assert hogged, outputs(result)[:2000]
    assert result["score"] == 0


def test_a_notebook_keeps_what_its_working_cells_define(graded):
    out, results, _ = graded
    result = results["notebook_failing_cell"]
    merge_tests = [t for t in result["tests"] if t["name"].startswith("test_merge.py")]
    assert merge_tests and all(t["status"] == "failed" for t in merge_tests)
    assert result["score"] == pytest.approx(90, abs=0.01)  # everything but merge_lora's 10 points
    feedback = (out / "notebook_failing_cell" / "feedback.md").read_text()
    assert "cell" in feedback and "NameError" in feedback


def test_files_handed_in_beside_the_module_are_left_out_and_named(graded):
    out, results, _ = graded
    assert results["conftest_rewrite"]["extra_data"]["ignored_files"] == ["conftest.py", "torch.py"]
    assert "`conftest.py`, `torch.py`" in (out / "conftest_rewrite" / "feedback.md").read_text()


def test_forged_results_stay_forgeries(graded):
    out, results, _ = graded
    assert results["forged_results"]["score"] == 0
    assert sorted(p.name for p in (out / "forged_results").iterdir()) == ["feedback.md", "results.json"]


def test_output_is_capped(graded):
    out, _, _ = graded
    for name in ("results.json", "feedback.md"):
        assert (out / "megabytes_of_output" / name).stat().st_size < 200_000


def test_every_run_ended_within_its_limit(graded):
    for name, result in graded[1].items():
        assert result["execution_time"] < TIMEOUT + 15, name


def test_nothing_is_left_running(graded):
    left = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            environment = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if b"lora-grader-escapee" in command or b"LORA_GRADER_RUN=" in environment:
            left.append((entry, command))
    assert not left
