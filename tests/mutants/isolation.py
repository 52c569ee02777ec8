"""Which part of the contract each broken implementation breaks, and which tests may fail for it.

A part's defect may fail that part's tests, and, beyond them, only the tests listed in
``DEPENDENCIES``: the contract's declared dependencies (ASSIGNMENT.md, "Where one part relies on
another"). The part of a mutant is read from the reference: the top-level definition each of its
edits falls in.
"""

import ast

PART_FILES = {  # a top-level name of the reference -> the test file of its part
    "LoRALayer": "test_lora_layer.py",
    "LinearLoRA": "test_linear_lora.py",
    "initialize_base_model": "test_initialize.py",
    "add_lora": "test_add_lora.py",
    "linear_layer_names": "test_add_lora.py",
    "DEFAULT_TARGET_MODULES": "test_add_lora.py",
    "count_trainable_parameters": "test_counting.py",
    "merge_lora": "test_merge.py",
    "transformer_layers": "test_freeze_layers.py",
    "freeze_layers": "test_freeze_layers.py",
}

# Tests that run the wrapped model as a whole, through the student's LinearLoRA and LoRALayer.
_RUNS_THE_WRAPPED_MODEL = ("test_add_lora.py::test_logits_unchanged_right_after_add_lora",
                           "test_add_lora.py::test_lora_follows_the_model_dtype",
                           "test_add_lora.py::test_lora_follows_a_model_on_the_gpu",
                           "test_add_lora.py::test_lora_agrees_with_peft")
_END_TO_END = ("test_training.py::test_frozen_weights_unchanged_and_lora_learns",
               "test_training.py::test_provided_train_lowers_the_loss")

DEPENDENCIES = {  # part file -> the other parts' tests its defect may fail too
    "test_lora_layer.py": (
        # LinearLoRA is judged against its own lora(x): a LoRALayer whose update is zero or of the wrong shape
        # leaves nothing to judge it by
        "test_linear_lora.py::test_output_equals_the_linear_right_after_wrapping",  # adds lora(x) of a 3-D x
        "test_linear_lora.py::test_forward_is_linear_plus_lora",
        "test_linear_lora.py::test_forward_in_training_mode_adds_its_lora",
        "test_linear_lora.py::test_gradients_reach_the_input_through_both_paths",
        "test_merge.py::test_merge_after_training_with_dropout",  # trains through the student's LoRA forward
        *_RUNS_THE_WRAPPED_MODEL, *_END_TO_END),
    "test_linear_lora.py": ("test_merge.py", *_RUNS_THE_WRAPPED_MODEL, *_END_TO_END),
    "test_initialize.py": _END_TO_END,
    "test_add_lora.py": _END_TO_END,
}


def parts(reference: str, edits, part_files: dict[str, str] = PART_FILES) -> set[str]:
    """The test files of the parts the edits fall in (a name outside ``part_files`` stands for itself)."""
    spans = []
    for node in ast.parse(reference).body:
        name = getattr(node, "name", None)
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        spans.append((node.lineno, node.end_lineno, name))
    found = set()
    for old, _ in edits:
        line = reference[:reference.index(old)].count("\n") + 1
        found |= {part_files.get(name, str(name)) for start, end, name in spans if start <= line <= end}
    return found


def allowed(part_file: str, test: str, dependencies: dict[str, tuple[str, ...]] = DEPENDENCIES) -> bool:
    """Whether a failure of ``test`` (``file::function``) may come from a defect of the part ``part_file``."""
    return test.startswith(part_file + "::") or any(test == d or test.startswith(d + "::") or test.split("::")[0] == d
                                                    for d in dependencies.get(part_file, ()))
