"""The documentation's generated parts: written from the project's files when the site is built (docs/hooks.py)."""

import json
import re
import shlex
from types import SimpleNamespace

import pytest

from grader import cli
from grader.layout import ROOT

from .. import module_file
from ..warm_grader import grader

hooks = module_file.load("docs_hooks", ROOT / "docs" / "hooks.py")


def fields(properties: dict, prefix: str = "") -> list[str]:
    found = []
    for name, field in properties.items():
        found.append(f"{prefix}{name}")
        found += fields(field.get("properties", {}), f"{prefix}{name}.")
    return found


def test_the_spec_reference_has_a_row_for_every_field_of_the_schema():
    schema = json.loads(hooks.SCHEMA.read_text())
    rows = [line for line in hooks.assignment_schema().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == fields(schema["properties"])
    assert "| `adapter.metric` | one of `accuracy`, `macro-f1` |" in hooks.assignment_schema()


def test_the_performance_page_is_bench_runs_own_table_of_its_results_with_where_and_when_each_was_measured():
    results = json.loads(hooks.BENCH_RESULTS.read_text())
    written = hooks.benchmarks()
    bench = module_file.load("bench_run_for_docs", hooks.BENCH)
    assert bench.table(results) in written
    rows = [line.split(" | ")[0].strip("| ").split(" ")[0] for line in written.splitlines()[2:] if line.startswith("|")]
    assert rows == list(results["where"]) and set(results["where"]) <= set(results)  # each measured benchmark, dated


def test_the_packs_page_shows_what_lora_grader_assignments_prints(capsys):
    written = hooks.assignments()
    assert cli.main(["assignments"]) == 0
    assert written == f"```\n{capsys.readouterr().out.rstrip()}\n```" and "umd-lorabert" in written


def test_the_kept_comparison_has_the_set_ups_and_trainable_counts_the_reference_gives_now():
    """docs/figures/comparison.md is kept as the reference's ``compare`` wrote it; its set-ups and their trainable
    counts (exact, unlike the trained figures) are checked against the reference as it is, so that a change to
    either is seen."""
    reference = module_file.load("lora_bert_for_docs", ROOT / "reference" / "lora-bert" / "lora_bert.py")
    rows = [line.split(" | ") for line in hooks.comparison().splitlines() if line.startswith("| ")][2:]
    kept = {cells[0].strip("| "): int(cells[1].replace(",", "")) for cells in rows}
    counted = {}
    for name, prepare in reference.comparison_setups("bert", 4).items():
        model, _ = reference.initialize_base_model(str(ROOT / "tiny_models" / "bert-tiny"), num_labels=2)
        prepare(model)
        counted[name] = reference.count_trainable_parameters(model)
    assert kept == counted


def test_a_page_gets_what_its_marker_names_and_an_unknown_marker_fails_the_build():
    page = SimpleNamespace(file=SimpleNamespace(src_path="x.md"))
    written = hooks.on_page_markdown("# Spec\n\n<!-- generated: assignment-schema -->\n", page, {}, None)
    assert "| field | type | required | what it is |" in written and "<!--" not in written
    with pytest.raises(ValueError, match="no writer for the marker 'nothing'"):
        hooks.on_page_markdown("<!-- generated: nothing -->\n", page, {}, None)


def test_the_grade_options_table_has_every_option_with_its_help(capsys):
    written = hooks.command_options("grade")
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    helped = capsys.readouterr().out
    options = set(re.findall(r"^  (--[\w-]+)", helped, re.M)) - {"--help"}
    assert {row.split("`")[1].split()[0].rstrip(",") for row in written.splitlines()[2:]} == options
    assert "| `--assignment NAME\\|PATH` | the assignment pack: a name from `lora-grader assignments`" in written


def test_a_figure_is_the_measured_value_formatted_and_dated_and_an_unknown_one_fails_the_build():
    results = json.loads(hooks.BENCH_RESULTS.read_text())
    page = SimpleNamespace(file=SimpleNamespace(src_path="x.md"))
    written = hooks.on_page_markdown("took {{ figure grading.suite_fresh_interpreter_s.median_s:.2f }} s", page, {},
                                     None)
    value = results["grading"]["suite_fresh_interpreter_s"]["median_s"]
    assert written.endswith(f">{value:.2f}</span> s") and results["where"]["grading"]["measured"] in written
    assert hooks.figure("training.0.device").endswith(">cpu</span>")  # a list's item by its index
    assert hooks.on_page_markdown("`\\{{ figure PATH:FORMAT }}`", page, {}, None) == "`{{ figure PATH:FORMAT }}`"
    with pytest.raises(KeyError, match=r"no 'grading\.nothing'"):
        hooks.on_page_markdown("{{ figure grading.nothing }}", page, {}, None)


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PROSE = [page for page in PAGES if "figures" not in page.parts]


def test_every_figure_the_pages_name_is_measured():
    named = [(page.name, match.group(1), match.group(2) or "") for page in PROSE
             for match in hooks.FIGURE.finditer(page.read_text(encoding="utf-8"))]
    assert len(named) >= 15
    for _, path, spec in named:
        hooks.figure(path, spec)


def test_no_page_dates_its_prose():
    """A measured figure carries its date in bench/results.json, never in a sentence that then grows old."""
    date = re.compile(r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|"
                      r"December) 20\d\d\b|\b20\d\d-\d\d-\d\d\b")
    dated = [(page.name, match.group(0)) for page in PROSE for match in date.finditer(page.read_text("utf-8"))]
    assert not dated


def test_the_readme_shows_what_make_grade_printed_in_a_fresh_clone():
    """The README's block is written by cog from bench/results.json (``make readme``), as the guide's by the hook."""
    printed = hooks.quickstart_printed()
    assert printed in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "8 graded, 0 regraded, 0 reused unchanged" in printed


# -- the commands the docs give -------------------------------------------------------------------------------------

BLOCK = re.compile(r"^(`{3,})(?:bash|sh|shell)\n(.*?)^\1$", re.S | re.M)
PLACEHOLDERS = ("PATH...", "[options]")  # a synopsis, not a command


def shell_commands() -> list[tuple[str, list[str]]]:
    """Every command of the shell blocks of the README and the docs: (where, its words), continuation lines
    joined, comments and ``VAR=value`` prefixes dropped, ``a && b`` as two."""
    found = []
    for page in PAGES:
        for block in BLOCK.finditer(page.read_text(encoding="utf-8")):
            for line in block.group(2).replace("\\\n", " ").splitlines():
                line = re.sub(r"\s+#\s.*$", "", line).strip()
                command: list[str] = []
                for word in [*shlex.split(line), "&&"]:
                    if word != "&&":
                        command.append(word)
                        continue
                    while command and re.fullmatch(r"[A-Z_]+=\S*", command[0]):
                        command.pop(0)
                    if command:
                        found.append((f"{page.relative_to(ROOT)}: {shlex.join(command)}", command))
                    command = []
    return found


COMMANDS = shell_commands()


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def grader_arguments(words: list[str]) -> list[str] | None:
    """A ``lora-grader`` (``python -m grader``) command's arguments; None for another command."""
    if words[:3] == ["python", "-m", "grader"]:
        return words[3:]
    return words[1:] if words[:1] == ["lora-grader"] else None


# The commands that need nothing but the checkout, run as the docs write them: each makes its folder or file in the
# current folder (a test's own). The others need a graded class (the report's, in tests/grader/test_class_report.py)
# or a course's files (a Canvas export, a Slurm array) and are parsed alone.
SELF_CONTAINED = ("assignments", "doctor", "release", "classroom50", "gradescope", "prairielearn")
RUNNABLE = [(where, arguments) for where, words in COMMANDS if (arguments := grader_arguments(words))
            and arguments[0] in SELF_CONTAINED and "my-course" not in arguments]


@pytest.mark.parametrize("where, arguments", RUNNABLE, ids=[where for where, _ in RUNNABLE])
def test_each_command_that_needs_only_the_checkout_runs_as_written(where, arguments, tmp_path):
    """Forked from the tests' warm grader (``release`` and ``classroom50`` start a worker to read the points)."""
    run = grader(*arguments, cwd=tmp_path)
    assert run.returncode == 0, f"{where}: {run.stderr}"
    made = arguments[1:2] if arguments[0] not in ("assignments", "doctor") else []
    assert all((tmp_path / name).exists() for name in made), where


def test_the_commands_run_are_those_of_the_platforms_and_the_bundle():
    assert {arguments[0] for _, arguments in RUNNABLE} == set(SELF_CONTAINED)


@pytest.mark.parametrize("where, words", COMMANDS, ids=[where for where, _ in COMMANDS])
def test_each_command_in_the_docs_is_one_the_project_takes(where, words):
    """A renamed option, command, make target or script fails here, not in a reader's terminal: each
    ``lora-grader`` (``python -m grader``) command is parsed by the real command line, each ``make`` target is the
    Makefile's, each script and each path given to pytest exists."""
    if (arguments := grader_arguments(words)) is not None:
        if any(placeholder in arguments for placeholder in PLACEHOLDERS):
            return
        try:
            cli.build_parser().parse_args(arguments)
        except SystemExit as error:
            pytest.fail(f"{where}: the command line refuses it (exit {error.code})")
    elif words[:1] == ["make"]:
        assert set(words[1:]) <= make_targets(), where
    elif words[:3] == ["python", "-m", "pytest"]:
        paths = [word for word in words[3:] if not word.startswith("-") and "/" in word and "path/to" not in word]
        assert all((ROOT / path.split("::")[0]).exists() for path in paths), where
    elif words[:1] in (["python"], ["python3"]) and len(words) > 1 and words[1].endswith(".py"):
        assert (ROOT / words[1]).is_file(), where


def test_the_docs_give_commands_to_check():
    checked = [where for where, words in COMMANDS if words[:3] == ["python", "-m", "grader"]]
    assert len(checked) >= 10 and any(where.startswith("README.md: make grade") for where, _ in COMMANDS)
