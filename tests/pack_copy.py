"""A copy of the lora-bert pack in a folder of a test's own, to grade or regenerate with ``--assignment FOLDER``."""

import shutil
from pathlib import Path

from grader.assignments.pack import find


def pack_copy(folder: Path, changes: dict[str, str] | None = None, reference: str | None = None) -> Path:
    """lora-bert's spec in ``folder`` with ``changes`` (a line's text -> its replacement, each found in the spec), its
    contract, and ``reference`` (default: its own) as its reference; its suite, template and examples stay where
    they are unless a change moves them."""
    lora_bert = find("lora-bert")
    spec = lora_bert.spec_file.read_text()
    for old, new in (changes or {}).items():
        assert old in spec, old
        spec = spec.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / lora_bert.spec_file.name).write_text(spec)
    shutil.copy(lora_bert.contract, folder)
    (folder / lora_bert.reference.name).write_text(lora_bert.reference.read_text() if reference is None else reference)
    return folder
