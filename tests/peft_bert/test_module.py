"""The module as a whole: importing it is cheap and quiet."""

from ..judging.checks import expect
from .assets import CONVENTIONS

MAX_PRINTED = 500


def test_importing_prints_little(lora):
    imported = lora.imported()
    printed, count = imported["printed"], imported["printed_chars"]
    expect(count <= MAX_PRINTED,
           f"Importing {CONVENTIONS.module} must not train or print at length: top-level work belongs under "
           "`if __name__ == \"__main__\":`", f"at most {MAX_PRINTED} characters printed",
           f"{count} characters, beginning {printed[:120]!r}")
