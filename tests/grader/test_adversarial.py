"""The repository's adversarial submissions, graded in one batch from a copy of the checkout (``arena.py``):
each gets the verdict it earns, within its limits; none reaches a file, a socket or a process outside
its workspace; every other submission keeps its grade; nothing any of them started is still running."""

import shutil

import psutil
import pytest

from grader.sandbox import kernel_objects

from .arena import ADVERSARIAL, CORRECT, DO_NOTHING, SECRET, Arena, Listeners, attacks, fingerprint, outputs

# The CPU time limit 10 times under the wall clock's: the tests share the machine's cores (pytest-xdist), and a
# CPU burner stopped for CPU time must not reach the wall clock's limit first on a loaded machine. The limit counts
# the submission's processes (its subjects), not the judge: the reference's subjects need 1.5 to 2 s (with
# --cpu-time 1.5 one is stopped in the training test, with 2 none), so 6 s is some 3 times that, and each burner
# spends all of it.
# The memory limit low enough that the hog passes it within one test's timeout on a loaded machine (four of its
# chunks; with 1500 MB it once needed more than the 5 s), and still twice the fork bomb's peak (412 and 494 MB).
TIMEOUT, CPU_TIME, TEST_TIMEOUT, MEMORY_MB = 60, 6, 5, 1000
DISK_MB, DISK_FILES = 64, 2000  # the fillers stop at twice these by themselves, saying "escaped"
LIMITS = ("--timeout", str(TIMEOUT), "--cpu-time", str(CPU_TIME), "--test-timeout", str(TEST_TIMEOUT),
          "--memory", str(MEMORY_MB), "--disk", str(DISK_MB), "--disk-files", str(DISK_FILES))
FORGERIES = attacks.VERDICT_FORGERIES
CONTAINED_ATTACKS = ("read_tests", "read_outside", "write_outside", "rewrite_results", "tcp_connect", "udp_send",
                     "unix_connect", "kill_parent", "stop_parent", "kill_grader", "parent_environ", "planted_symlinks",
                     "ipc_leave", "ipc_look", "hunt_secrets")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A victim graded 0 first, beside ``ipc_leave``; then every adversarial submission (``ipc_leave`` and
    ``ipc_look`` again), an honest one and the victim again."""
    arena = Arena(tmp_path_factory.mktemp("adversarial"))
    victim = arena.root / "victim.py"
    shutil.copy(ADVERSARIAL / "empty.py", victim)
    ipc = (attacks.IPC_KEY, attacks.ipc_name(attacks.IPC_KEY))  # test_containment's copies use another key
    kernel_objects.remove(*ipc)  # what an earlier run with the layer off left
    first = arena.grade([victim, ADVERSARIAL / "ipc_leave.py"], *LIMITS)
    assert first.returncode == 0, first.stderr
    honest = arena.root / "honest.py"
    shutil.copy(CORRECT, honest)
    listeners = Listeners()
    try:
        run = arena.grade([*ADVERSARIAL.iterdir(), honest, victim], *LIMITS)
    finally:
        received = listeners.close()
    survivors = arena.survivors()
    arena.kill_survivors()
    assert run.returncode == 0, run.stderr
    results = {folder.name: arena.results(folder.name) for folder in arena.out.iterdir() if folder.is_dir()}
    left = kernel_objects.find(*ipc)
    kernel_objects.remove(*ipc)
    return arena, results, run.stdout, received, survivors, left


def test_every_adversarial_submission_was_graded(graded):
    _, results, table, *_ = graded
    expected = {p.stem if p.is_file() else p.name for p in ADVERSARIAL.iterdir() if not p.name.startswith(".")}
    assert set(results) == expected | {"honest", "victim"}
    for name in expected:
        assert name in table
    assert "containment: every layer in force" in table


@pytest.mark.parametrize("name", CONTAINED_ATTACKS)
def test_a_contained_attack_leaves_the_honest_grade(graded, name):
    result = graded[1][name]
    assert result["score"] == 100, outputs(result)[:3000]
    assert SECRET not in outputs(result)
    assert "escaped" not in outputs(result)
    assert all(result["extra_data"]["containment"].values())


def test_the_other_submissions_keep_their_grades(graded):
    arena, results, *_ = graded
    assert results["honest"]["score"] == 100
    assert results["victim"]["score"] == 0  # rewrite_results could not reach it
    assert "victim,0.0" in (arena.out / "grades.csv").read_text().replace('"', "")


def test_nothing_outside_the_workspaces_was_reached(graded):
    arena, _, _, received, *_ = graded
    assert received == []
    assert arena.escaped_files() == []
    assert fingerprint(arena.checkout / "tiny_models") == arena.models


def test_a_fork_bomb_is_capped_and_its_tests_still_run(graded):
    result = graded[1]["fork_bomb"]
    assert "escaped" not in outputs(result)
    assert result["extra_data"]["note"] != "out of memory"
    assert result["extra_data"]["tree_limits"] == "cgroup"


@pytest.mark.parametrize("name", ["busy_children", "busy_threads"])
def test_cpu_burners_are_stopped_by_the_cpu_time_of_their_whole_tree(graded, name):
    result = graded[1][name]
    assert result["extra_data"]["stopped"] == "CPU time", outputs(result)[:2000]
    assert f"(the limit: --cpu-time {CPU_TIME:g} s)" in result["output"]
    assert result["execution_time"] < TIMEOUT


@pytest.mark.parametrize("name, evidence", [
    ("syntax_error", "SyntaxError"),
    ("empty", "defines no `LoRALayer`"),
    ("exit_at_import", "SystemExit: 0"),
    ("huge_import_error", "ValueError: "),
    ("writes_beside_itself", "write to the working folder instead"),
    ("os_exit_at_import", "ended while importing it"),
    ("loop_at_import", "Timeout"),
    ("forged_results", "over the cap"),
    ("conftest_rewrite", "defines no `LoRALayer`"),
    ("detaching", "defines no `LoRALayer`"),
    ("megabytes_of_output", "defines no `LoRALayer`"),
    ("not_json", "not a readable notebook"),
])
def test_cheats_and_crashes_score_zero_and_say_why(graded, name, evidence):
    _, results, *_ = graded
    assert results[name]["score"] == 0
    assert evidence in outputs(results[name])


@pytest.mark.parametrize("name", FORGERIES)
def test_a_forged_verdict_earns_what_the_template_earns(graded, name):
    """Each rewrites, in its own process, what would decide its grade if the tests ran there: nothing of the judge."""
    result = graded[1][name]
    assert result["score"] == 0, outputs(result)[:3000]
    passed = [t["name"] for t in result["tests"] if t["status"] == "passed"]
    assert passed == ["test_module.py::test_importing_prints_little"]  # the template's one passing test
    assert "NotImplementedError" in outputs(result)


def test_patched_comparisons_change_nothing_the_judge_computes(graded):
    result = graded[1]["patched_comparisons"]
    passed = sorted(t["name"] for t in result["tests"] if t["status"] == "passed")
    # A and B do exist with the right shapes: those tests pass on merit; every comparison is the judge's own
    assert passed == ["test_lora_layer.py::test_holds_only_A_and_B", "test_lora_layer.py::test_shapes_of_A_and_B",
                      "test_module.py::test_importing_prints_little"]


def test_the_hidden_tests_never_reach_a_submissions_feedback(graded):
    """read_tests raises any test file it can read: its feedback must hold none (it finds none, and passes)."""
    arena, results, *_ = graded
    feedback = (arena.out / "read_tests" / "feedback.md").read_text()
    assert results["read_tests"]["score"] == 100
    assert "def test_" not in feedback and "found the tests" not in outputs(results["read_tests"])


def test_a_broken_channel_fails_only_the_tests_it_broke(graded):
    """close_channel closes its channel to the judge whenever merge_lora runs: those tests fail, in plain words;
    a fresh subject judges every later test."""
    result = graded[1]["close_channel"]
    failed = {t["name"].split("::")[0] for t in result["tests"] if t["status"] == "failed"}
    assert failed == {"test_merge.py"}
    assert not result["extra_data"]["worker_lost"]
    assert "stopped answering properly" in outputs(result)
    assert result["score"] == pytest.approx(90, abs=0.01)


def test_garbage_nan_and_huge_tensors_fail_the_tests_that_asked(graded):
    garbage, huge = graded[1]["garbage_on_descriptors"], graded[1]["nan_and_huge_tensors"]
    assert garbage["score"] == 0 and "over the cap" in outputs(garbage)
    assert "over the cap of 16,777,216" in outputs(huge)
    assert "largest difference nan" in outputs(huge)
    assert not huge["extra_data"]["worker_lost"] and not garbage["extra_data"]["worker_lost"]


@pytest.mark.parametrize("name, limit, peak", [("disk_filler", f"--disk {DISK_MB} MB", "peak_disk_mb"),
                                               ("file_creator", f"--disk-files {DISK_FILES}", "peak_disk_files")])
def test_a_disk_filler_is_stopped_at_its_cap_and_leaves_nothing(graded, name, limit, peak):
    arena, results, *_ = graded
    result = results[name]
    assert result["extra_data"]["stopped"] == "disk full" and result["extra_data"]["limit"] == limit
    assert f"(the limit: {limit})" in result["output"]
    assert "escaped" not in outputs(result)
    # the kernel refused the write past the cap: the grader never saw more
    assert result["extra_data"][peak] <= (DISK_MB if name == "disk_filler" else DISK_FILES)
    assert result["score"] < 100  # stopped just after its import: what it earned by then at most
    assert [path for path in arena.root.rglob("lora-grader-*") if "lora-grader-filler" in path.name
            or "lora-grader-empty" in path.name] == []


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
    if result["extra_data"]["stopped"]:  # the grader's watch stopped it, rather than the address-space limit
        assert result["extra_data"]["limit"] == f"--memory {MEMORY_MB} MB"
        assert f"(the limit: --memory {MEMORY_MB} MB)" in result["output"]


def test_a_notebook_keeps_what_its_working_cells_define(graded):
    arena, results, *_ = graded
    out = arena.out
    result = results["notebook_failing_cell"]
    merge_tests = [t for t in result["tests"] if t["name"].startswith("test_merge.py")]
    assert merge_tests and all(t["status"] == "failed" for t in merge_tests)
    assert result["score"] == pytest.approx(90, abs=0.01)  # everything but merge_lora's 10 points
    feedback = (out / "notebook_failing_cell" / "feedback.md").read_text()
    assert "cell" in feedback and "NameError" in feedback


def test_files_handed_in_beside_the_module_are_left_out_and_named(graded):
    arena, results, *_ = graded
    out = arena.out
    assert results["conftest_rewrite"]["extra_data"]["ignored_files"] == ["conftest.py", "torch.py"]
    assert "`conftest.py`, `torch.py`" in (out / "conftest_rewrite" / "feedback.md").read_text()


def test_forged_results_stay_forgeries(graded):
    arena, results, *_ = graded
    out = arena.out
    assert results["forged_results"]["score"] == 0
    assert sorted(p.name for p in (out / "forged_results").iterdir()) == ["feedback.md", "results.json"]


def test_output_is_capped(graded):
    out = graded[0].out
    for name in ("results.json", "feedback.md"):
        assert (out / "megabytes_of_output" / name).stat().st_size < 200_000


def test_every_file_for_one_student_stays_under_a_mebibyte(graded):
    """Whatever a submission makes its messages say (``huge_import_error``: 600,000 characters outside ASCII)."""
    sizes = {path: path.stat().st_size for path in graded[0].out.glob("*/*")}
    assert sizes and max(sizes.values()) < 2**20, sorted(sizes.items(), key=lambda item: item[1])[-3:]


def test_an_import_error_is_stated_once_and_each_test_says_so_in_a_line(graded):
    result = graded[1]["huge_import_error"]
    assert result["output"].count("ValueError: ") == 1 and "[... " in result["output"]  # shortened, both ends kept
    lines = {test["output"] for test in result["tests"]}
    assert all(line.count("\n") == 0 and "could not be imported" in line and len(line) < 400 for line in lines)


def test_no_kernel_object_outlives_its_run(graded):
    """``ipc_leave`` made System V objects, a POSIX message queue and a keyring key in both batches; ``ipc_look``
    found none of them (it keeps its 100, above), and none is left where the grader runs."""
    assert graded[5] == []


def test_every_run_ended_within_its_limit(graded):
    for name, result in graded[1].items():
        assert result["execution_time"] < TIMEOUT + 15, name


def test_nothing_is_left_running(graded):
    assert graded[4] == []  # nothing whose command line or folder lies in the arena
    escapees = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
                if "lora-grader-escapee" in " ".join(p.info["cmdline"] or ())]
    assert escapees == []


@pytest.mark.parametrize("name", DO_NOTHING)
def test_a_do_nothing_template_scores_zero(graded, name):
    """Graded functions that return their input unchanged (alone and together) earn nothing: every test first
    checks that what it judges exists (the layers wrapped, the merge done) before it judges it."""
    result = graded[1][name]
    passed = [test["name"] for test in result["tests"] if test["status"] == "passed"]
    assert result["score"] == 0, passed
