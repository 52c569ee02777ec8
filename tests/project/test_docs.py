"""The documentation's generated parts: written from the project's files when the site is built (docs/hooks.py)."""

import json
from types import SimpleNamespace

import pytest

from grader.layout import ROOT

from .. import module_file

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


def test_a_page_gets_what_its_marker_names_and_an_unknown_marker_fails_the_build():
    page = SimpleNamespace(file=SimpleNamespace(src_path="x.md"))
    written = hooks.on_page_markdown("# Spec\n\n<!-- generated: assignment-schema -->\n", page, {}, None)
    assert "| field | type | required | what it is |" in written and "<!--" not in written
    with pytest.raises(ValueError, match="no writer for the marker 'nothing'"):
        hooks.on_page_markdown("<!-- generated: nothing -->\n", page, {}, None)
