"""Write the generated example submissions from the reference solution.

- ``examples/lora-bert/``: one correct submission (as a file and as a notebook) and
  typical student mistakes, each the reference with one mistake from
  ``tests/mutants/mutants.py``. The README's first command grades this folder.
- ``examples/umd-lorabert/``, ``examples/lora-from-scratch/``: the same for each other pack, its
  mistakes from its mutants module (the spec's ``mutants``).
- ``examples/adversarial/notebook_failing_cell.ipynb``: the reference as a notebook in
  which one cell raises before it defines ``merge_lora``, and a leftover cell raises too.
- ``examples/adversarial/<attack>.py``: the reference plus one attack of ``attacks.py``
  (reading, writing or signalling outside the workspace, the network, fork bombs...), or the
  untouched template plus one forgery of a verdict (``FORGERIES``).

The other adversarial submissions are written by hand. Run this after changing the
reference; a test checks that the files are what it writes.

    python examples/make_examples.py
"""

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from attacks import ATTACKS, CHANNEL_CLOSER, FORGERIES, HIDDEN_TEST_READER, PRELUDE  # noqa: E402

from grader.assignments.pack import find  # noqa: E402
from grader.authoring.template import to_notebook  # noqa: E402

LORA_BERT = find("lora-bert")

MISTAKES = ("b_random", "scaling_alpha", "nothing_frozen", "freeze_minus_zero", "merge_without_scaling",
            "substring_match")
PACK_MISTAKES = {  # each other pack -> the mistakes of its mutants module that become its examples
    "umd-lorabert": ("scaling_alpha_over_rank", "head_frozen", "children_matched_anywhere"),
    "lora-from-scratch": ("scaling_alpha_over_rank", "not_recursive", "head_frozen"),
    "finetuning-methods": ("classifier_only", "scaling_alpha", "evaluates_on_the_train_set"),
    "peft-bert": ("dataset_not_padded", "no_task_type", "gradients_accumulate"),
}


# The untouched template with graded functions that return their input unchanged: each must score 0.
_RETURNS_MODEL = {"add_lora": "return model", "merge_lora": "return model", "freeze_layers": "return model"}
_DOES_NOTHING = {**_RETURNS_MODEL, "count_trainable_parameters": "return 0",
                 "LoRALayer.__init__": "super().__init__()", "LoRALayer.forward": "return x",
                 "LinearLoRA.__init__": "super().__init__()\n        self.linear = linear",
                 "LinearLoRA.forward": "return self.linear(x)"}
DO_NOTHING = {
    **{f"do_nothing_{name}": (f"{name} returns the model unchanged", {name: body})
       for name, body in _RETURNS_MODEL.items()},
    "do_nothing_add_and_merge": ("add_lora and merge_lora return the model unchanged",
                                 {name: _RETURNS_MODEL[name] for name in ("add_lora", "merge_lora")}),
    "do_nothing_everywhere": ("every graded function and class does nothing (returns its input, holds nothing)",
                              _DOES_NOTHING),
}


def load_mutants():
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "tests" / "mutants" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_header(description: str, source: str) -> str:
    return f"# Example submission: {description}.\n{source}"


def pack_examples(pack, mistakes: tuple[str, ...]) -> dict[str, str]:
    """A pack's correct file and notebook, and its reference with each of ``mistakes`` (its mutants module's)."""
    reference = pack.reference.read_text(encoding="utf-8")
    module = str(Path(pack.spec["mutants"]).with_suffix("")).replace("/", ".")
    broken = {mutant.name: mutant for mutant in importlib.import_module(module).BROKEN}
    folder = Path(pack.spec["examples"]).name
    files = {f"{folder}/correct.py": with_header("correct", reference),
             f"{folder}/correct_notebook.ipynb": to_notebook(reference, pack.module)}
    for name in mistakes:
        files[f"{folder}/{name}.py"] = with_header(broken[name].description, broken[name].apply(reference))
    return files


def render() -> dict[str, str]:
    """The generated files, by path relative to ``examples/``."""
    reference = LORA_BERT.reference.read_text(encoding="utf-8")
    module = load_mutants()
    mutants = {mutant.name: mutant for mutant in module.BROKEN}
    files = {
        "lora-bert/correct.py": with_header("correct", reference),
        "lora-bert/correct_notebook.ipynb": to_notebook(reference, "lora_bert"),
    }
    for name in MISTAKES:
        files[f"lora-bert/{name}.py"] = with_header(mutants[name].description, mutants[name].apply(reference))
    for pack_name, mistakes in PACK_MISTAKES.items():
        files.update(pack_examples(find(pack_name), mistakes))
    merge_cell = "# %%\ndef merge_lora("
    assert reference.count(merge_cell) == 1, "the reference's merge_lora cell moved"
    leftover = "# %%\nmerged = merge_lora(model)  # left over from exploring\n\n\ndef merge_lora("
    failing = reference.replace(merge_cell, leftover)
    failing += "\n\n# %%\nprint(model.config)  # another leftover\n"
    files["adversarial/notebook_failing_cell.ipynb"] = to_notebook(failing, "lora_bert")
    for name, (description, attack) in ATTACKS.items():
        files[f"adversarial/{name}.py"] = with_header(f"a correct solution that {description}",
                                                      reference + PRELUDE + attack)
    template = (LORA_BERT.template / "lora_bert.py").read_text(encoding="utf-8")
    for name, (description, attack) in FORGERIES.items():
        files[f"adversarial/{name}.py"] = with_header(f"the untouched template that {description}",
                                                      template + PRELUDE + attack)
    for name, (description, bodies) in DO_NOTHING.items():
        files[f"adversarial/{name}.py"] = with_header(f"the untouched template in which {description}",
                                                      module.do_nothing(template, bodies))
    for name, (description, attack) in (("read_tests", HIDDEN_TEST_READER), ("close_channel", CHANNEL_CLOSER)):
        files[f"adversarial/{name}.py"] = with_header(f"a correct solution that {description}",
                                                      reference + PRELUDE + attack)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    for relative, text in render().items():
        path = args.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
