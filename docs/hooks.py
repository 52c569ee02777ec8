"""MkDocs hooks: the parts of pages that are written from the project's own files, never typed twice.

A page holds a marker line, ``<!-- generated: NAME -->``, and the hook puts there what
``GENERATED[NAME]`` writes from the file it reads: the pack spec's reference from the JSON Schema
that ``grader/assignments/pack.py`` validates every spec against (as PrairieLearn writes its
configuration reference from its schemas), and the benchmarks' latest figures from the JSON file
``bench/run.py`` writes, and what a command prints, run as the site is built. A marker with no
writer fails the build.
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


def benchmarks() -> str:
    """bench/run.py's own table of bench/results.json, and where and when each benchmark in it was measured."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = json.loads(BENCH_RESULTS.read_text(encoding="utf-8"))
    lines = ["| benchmark | measured | machine |", "| --- | --- | --- |"]
    for name, machine in results.get("where", {}).items():
        device = machine.get("cuda") or f"{machine['cpus']} CPU cores, no GPU"
        quick = " (`--quick`)" if machine.get("quick") else ""
        lines.append(f"| {name}{quick} | {machine['measured']} | {device}; {machine['platform']}, Python "
                     f"{machine['python']}, torch {machine['torch']} |")
    return "\n".join([*lines, "", "```text", bench.table(results), "```"])


def assignments() -> str:
    """What ``lora-grader assignments`` prints, run when the site is built: the packs as they are."""
    from grader import cli

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["assignments"])
    if code != 0:
        raise RuntimeError(f"lora-grader assignments exited {code}")
    return f"```\n{printed.getvalue().rstrip()}\n```"


FIGURES = Path(__file__).resolve().parent / "figures"  # what a command of the project wrote, kept as written


def comparison() -> str:
    """The reference's comparison of fine-tuning methods, as its ``compare`` command wrote it (figures/)."""
    return (FIGURES / "comparison.md").read_text(encoding="utf-8").rstrip()


GENERATED = {"assignment-schema": assignment_schema, "benchmarks": benchmarks, "assignments": assignments,
             "comparison": comparison}


def on_page_markdown(markdown: str, page, config, files) -> str:
    def generated(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise ValueError(f"{page.file.src_path}: no writer for the marker {name!r} (docs/hooks.py: GENERATED)")
        return GENERATED[name]()

    return MARKER.sub(generated, markdown)
