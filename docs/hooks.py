"""MkDocs hooks: the parts of pages that are written from the project's own files, never typed twice.

A page holds a marker line, ``<!-- generated: NAME -->``, and the hook puts there what
``GENERATED[NAME]`` writes from the file it reads: the pack spec's reference from the JSON Schema
that ``grader/assignments/pack.py`` validates every spec against (as PrairieLearn writes its
configuration reference from its schemas), the benchmarks' latest figures and what the quick start
printed from the JSON file ``bench/`` writes (``bench/record.py``), and what a command prints, run as
the site is built. A marker with no writer fails the build.

A measured figure in prose is ``{{ figure PATH:FORMAT }}``: the value at ``PATH`` (keys joined by dots)
in ``bench/results.json``, formatted as Python's ``format`` does, and dated in its tooltip by the run
that measured it. A path the file lacks fails the build; ``\\{{ figure`` shows the syntax itself.
(Written here rather than with mkdocs-macros, whose Jinja would read every ``${{ ... }}`` of the GitHub
Actions examples as its own.)

The README, read on GitHub where no hook runs, gets the same blocks from ``cog``: ``make docs`` checks
that it holds what these functions write (``cog --check``) and ``make readme`` rewrites it.
"""

import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "grader" / "assignments" / "assignment.schema.json"
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.MULTILINE)


def kind(field: dict) -> str:
    """A field's type as a reader wants it: ``string``, ``one of accuracy, macro-f1``, ``array of string``."""
    if "const" in field:
        return f"always `{json.dumps(field['const'])}`"
    if "enum" in field:
        return "one of " + ", ".join(f"`{value}`" for value in field["enum"])
    if field.get("type") == "array":
        items = field.get("items", {})
        return f"array of {kind(items)}" if items else "array"
    if field.get("type") == "object" and "additionalProperties" in field and "properties" not in field:
        values = field["additionalProperties"]
        return f"table of {kind(values)}" if isinstance(values, dict) and values else "table"
    return str(field.get("type", "any"))


def rules(field: dict) -> str:
    """The constraints the schema puts on a value, in words."""
    said = []
    for key, words in (("minimum", "at least"), ("maximum", "at most"), ("exclusiveMinimum", "above"),
                       ("minItems", "at least this many items:"), ("pattern", "matching")):
        if key in field:
            value = field[key]
            said.append(f"{words} `{value}`" if key == "pattern" else f"{words} {value}")
    if field.get("uniqueItems"):
        said.append("no item twice")
    return "; ".join(said)


def spec_rows(properties: dict, required: list, prefix: str = "") -> list[str]:
    rows = []
    for name, field in properties.items():
        path = f"{prefix}{name}"
        description = field.get("description", "") + (f" ({rules(field)})" if rules(field) else "")
        rows.append(f"| `{path}` | {kind(field)} | {'yes' if name in required else ''} | "
                    f"{description.replace('|', chr(92) + '|')} |")
        if "properties" in field:
            rows += spec_rows(field["properties"], field.get("required", []), f"{path}.")
    return rows


def assignment_schema() -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return "\n".join([schema.get("description", ""), "",
                      "| field | type | required | what it is |", "| --- | --- | --- | --- |",
                      *spec_rows(schema["properties"], schema.get("required", []))])


BENCH = ROOT / "bench" / "run.py"
BENCH_RESULTS = ROOT / "bench" / "results.json"


def measured() -> dict:
    return json.loads(BENCH_RESULTS.read_text(encoding="utf-8"))


def machine_words(machine: dict) -> str:
    device = machine.get("cuda") or f"{machine['cpus']} CPU cores, no GPU"
    return f"{device}; {machine['platform']}, Python {machine['python']}, torch {machine['torch']}"


def benchmarks() -> str:
    """bench/run.py's own table of bench/results.json, and where and when each benchmark in it was measured."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = measured()
    lines = ["| benchmark | measured | machine |", "| --- | --- | --- |"]
    for name, machine in results.get("where", {}).items():
        quick = " (`--quick`)" if machine.get("quick") else ""
        lines.append(f"| {name}{quick} | {machine['measured']} | {machine_words(machine)} |")
    return "\n".join([*lines, "", "```text", bench.table(results), "```"])


FIGURE = re.compile(r"(?<!\\)\{\{ figure ([\w.-]+)(?::([^ }]*))? \}\}")
ESCAPED = "\\{{ figure "  # how a page shows the syntax itself


def figure(path: str, spec: str = "") -> str:
    """One measured value, formatted, with where and when it was measured as its tooltip."""
    results = measured()
    value = results
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise KeyError(f"bench/results.json has no {path!r} (at {key!r}): run the benchmark that measures it")
    machine = results["where"][path.split(".")[0]]
    return f'<span title="measured {machine["measured"]}: {machine_words(machine)}">{format(value, spec)}</span>'


def quickstart(key: str) -> str:
    return measured()["quickstart"][key]


def fenced(text: str, language: str = "") -> str:
    """``text`` in a code fence longer than any run of backticks it holds."""
    ticks = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    return f"{ticks}{language}\n{text}\n{ticks}"


def template_pytest_end() -> str:
    """How a student's first ``pytest`` on the template ends: from the tests waiting for code to the points."""
    lines = quickstart("template_pytest").splitlines()
    return "\n".join(lines[next(i for i, line in enumerate(lines) if " not implemented yet " in line):])


def quickstart_printed() -> str:
    """What ``make grade`` printed in a fresh clone (``bench/quickstart.py``): the README's and the guide's."""
    return fenced(quickstart("printed"), "text")


def assignments() -> str:
    """What ``lora-grader assignments`` prints, run when the site is built: the packs as they are."""
    from grader import cli

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["assignments"])
    if code != 0:
        raise RuntimeError(f"lora-grader assignments exited {code}")
    return f"```\n{printed.getvalue().rstrip()}\n```"


def command_options(name: str) -> str:
    """The options of ``lora-grader NAME`` with what its ``--help`` says of each, from the parser the command line
    itself uses, so that the page and ``--help`` never disagree. (argparse lists a parser's actions and
    subcommands only through its underscored attributes.)"""
    import argparse

    from grader import cli

    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    rows = ["| option | what it does (`--help`) |", "| --- | --- |"]
    for action in commands.choices[name]._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        value = "" if action.nargs == 0 else " " + (action.metavar or "{" + ",".join(map(str, action.choices)) + "}"
                                                    if action.choices else action.metavar or action.dest.upper())
        said = (action.help or "") % {"default": action.default}
        cells = (f"`{', '.join(action.option_strings)}{value}`", said)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


FIGURES = Path(__file__).resolve().parent / "figures"  # what a command of the project wrote, kept as written


def comparison() -> str:
    """The reference's comparison of fine-tuning methods, as its ``compare`` command wrote it (figures/)."""
    return (FIGURES / "comparison.md").read_text(encoding="utf-8").rstrip()


GENERATED = {"assignment-schema": assignment_schema, "benchmarks": benchmarks, "assignments": assignments,
             "comparison": comparison, "quickstart-printed": quickstart_printed,
             "quickstart-feedback": lambda: fenced(quickstart("feedback_head"), "markdown"),
             "template-pytest": lambda: fenced(template_pytest_end(), "text"),
             "doctor": lambda: fenced(quickstart("doctor"), "text"), "grade-options": lambda: command_options("grade")}


def on_page_markdown(markdown: str, page, config, files) -> str:
    def generated(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise ValueError(f"{page.file.src_path}: no writer for the marker {name!r} (docs/hooks.py: GENERATED)")
        return GENERATED[name]()

    written = FIGURE.sub(lambda match: figure(match.group(1), match.group(2) or ""), MARKER.sub(generated, markdown))
    return written.replace(ESCAPED, ESCAPED[1:])
