"""The lora-from-scratch pack's mutants: its reference with the mistakes the TP3 handout invites, and correct
variants, each broken one naming the tests that must fail; and which tests a defect of each part may fail
(the parts' declared dependencies, as in ASSIGNMENT.md's "Where one part relies on another")."""

from .mutants import Mutant

FORWARD = "        return self.alpha * (x @ self.A @ self.B)\n"
B_INIT = "        self.B = nn.Parameter(torch.zeros(rank, out_dim))\n"
A_INIT = "        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))\n"
KEEP = "        self.linear = linear\n"
SKIP_HEAD = "        if name == HEAD:\n            continue\n"
RECURSE = "        else:\n            replace_linear_with_lora(child, rank, alpha)\n"
WRAP = "            setattr(model, name, LinearWithLoRA(child, rank, alpha))\n"
FREEZE = "    for param in model.parameters():\n        param.requires_grad = False\n"
ACTIVATE = ("    for module in model.modules():\n        if isinstance(module, LoRALayer):\n"
            "            for param in module.parameters():\n                param.requires_grad = True\n")
HEAD_TRAINS = ("    head = getattr(model, HEAD, None)\n    if head is not None:\n"
               "        for param in head.parameters():\n            param.requires_grad = True\n")

BROKEN = [
    Mutant("scaling_alpha_over_rank", "scales by alpha / rank, as peft does, where the handout scales by alpha",
           ((FORWARD, "        return self.alpha / self.A.shape[1] * (x @ self.A @ self.B)\n"),),
           ("test_forward_is_alpha_x_A_B", "test_forward_reads_A_and_B_at_every_call", "test_forward_keeps_float64")),
    Mutant("b_random", "B initialised randomly: the model changes the moment it is wrapped",
           ((B_INIT, "        self.B = nn.Parameter(torch.randn(rank, out_dim))\n"),),
           ("test_B_starts_at_zero_and_A_random",)),
    Mutant("a_zero", "A initialised to zero: no gradient ever reaches B",
           ((A_INIT, "        nn.init.zeros_(self.A)\n"),), ("test_B_starts_at_zero_and_A_random",)),
    Mutant("forward_detached", "the update computed from A.detach(): A never learns",
           ((FORWARD, "        return self.alpha * (x @ self.A.detach() @ self.B)\n"),),
           ("test_gradients_reach_A_B_and_the_input",)),
    Mutant("linear_copied", "LinearWithLoRA builds a new nn.Linear of the same sizes instead of keeping the one given",
           ((KEEP, "        self.linear = nn.Linear(linear.in_features, linear.out_features)\n"),),
           ("test_keeps_the_very_linear_layer_unchanged", "test_forward_is_linear_plus_its_lora")),
    Mutant("forward_without_lora", "LinearWithLoRA.forward returns linear(x) alone",
           (("        return self.linear(x) + self.lora(x)\n", "        return self.linear(x)\n"),),
           ("test_forward_is_linear_plus_its_lora",)),
    Mutant("lora_left_in_float32", "the LoRALayer is not moved to the linear layer's device and dtype",
           (("        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)\n", ""),),
           ("test_lora_follows_the_linear_dtype",)),
    Mutant("head_wrapped", "out_head wrapped too, as the book's appendix does before the head was the classifier",
           ((SKIP_HEAD, ""),), ("test_wraps_every_linear_of_the_gpt_but_the_head",)),
    Mutant("not_recursive", "only the model's direct children are looked at",
           ((RECURSE, ""),), ("test_wraps_every_linear_of_the_gpt_but_the_head", "test_reaches_linears_at_any_depth")),
    Mutant("rank_and_alpha_swapped", "LinearWithLoRA(child, alpha, rank)",
           ((WRAP, "            setattr(model, name, LinearWithLoRA(child, alpha, rank))\n"),),
           ("test_wraps_the_very_layers_with_the_given_rank_and_alpha",)),
    Mutant("head_frozen", "the head frozen with the rest: the classifier cannot learn its two classes",
           ((HEAD_TRAINS, ""),), ("test_trains_exactly_lora_and_the_head", "test_without_lora_only_the_head_trains")),
    Mutant("nothing_frozen", "the pretrained weights left as they were (trainable)",
           ((FREEZE, ""),), ("test_trains_exactly_lora_and_the_head",)),
    Mutant("lora_not_activated", "everything frozen but the head: LoRA never trains",
           ((ACTIVATE, ""),), ("test_trains_exactly_lora_and_the_head",)),
    Mutant("lora_layer_with_bias", "the LoRALayer adds a bias of its own to the update",
           ((B_INIT, B_INIT + "        self.bias = nn.Parameter(torch.zeros(out_dim))\n"),
            (FORWARD, "        return self.alpha * (x @ self.A @ self.B) + self.bias\n")),
           ("test_A_and_B_are_parameters_of_their_shapes",)),
    Mutant("alpha_kept_as_scaling", "alpha kept under another name, self.scaling",
           (("        self.alpha = alpha\n", "        self.scaling = alpha\n"),
            (FORWARD, "        return self.scaling * (x @ self.A @ self.B)\n")), ("test_alpha_is_stored_as_given",)),
]

CORRECT = [
    Mutant("reference", "the reference itself, unchanged", ()),
    Mutant("einsum_forward", "the update with einsum",
           ((FORWARD, "        return self.alpha * torch.einsum(\"...i,ir,ro->...o\", x, self.A, self.B)\n"),)),
    Mutant("activated_by_name", "LoRA's parameters found by name, the book's way",
           ((ACTIVATE, "    for name, param in model.named_parameters():\n"
                       "        if \"lora\" in name:\n            param.requires_grad = True\n"),)),
    Mutant("returns_the_model", "replace_linear_with_lora and freeze_and_activate_lora return the model (not graded)",
           ((RECURSE, RECURSE + "    return model\n"), (HEAD_TRAINS, HEAD_TRAINS + "    return model\n"))),
]

PART_FILES = {  # a top-level name of the reference -> the test file of its part
    "LoRALayer": "test_lora_layer.py",
    "LinearWithLoRA": "test_linear_with_lora.py",
    "replace_linear_with_lora": "test_replace.py",
    "freeze_and_activate_lora": "test_freeze.py",
}
_RECIPE = ("test_training.py",)  # runs every part together
DEPENDENCIES = {
    # the wrapper is judged through its own lora(x), the freezing on layers the wrapper built
    "test_lora_layer.py": ("test_linear_with_lora.py::test_forward_is_linear_plus_its_lora", "test_freeze.py",
                           *_RECIPE),
    "test_linear_with_lora.py": ("test_freeze.py", *_RECIPE),
    "test_replace.py": _RECIPE,
    "test_freeze.py": _RECIPE,
}

# The untouched template with every graded part doing nothing useful (mutants.do_nothing): it must score 0.
DO_NOTHING = {
    "LoRALayer.__init__": "super().__init__()", "LoRALayer.forward": "return x",
    "LinearWithLoRA.__init__": "super().__init__()\n        self.linear = linear",
    "LinearWithLoRA.forward": "return self.linear(x)",
    "replace_linear_with_lora": "return None", "freeze_and_activate_lora": "return None",
}
