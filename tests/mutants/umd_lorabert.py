"""The umd-lorabert pack's mutants: its reference with the mistakes its students make, and correct variants.

The handout's own reading suggests some of them: "Freeze the model parameters" read as the
head too, ``modules_to_adapt`` matched as a suffix anywhere in the name (so that
``output.dense`` catches ``attention.output.dense``), peft's ``alpha / rank`` where this course
scales by ``alpha``. Each broken one names the tests that must fail; the suite runs with the
pack's conventions (``--assignment umd-lorabert``).
"""

from . import isolation
from .mutants import Mutant

FORWARD = "        return self.alpha * (x @ self.A @ self.B)\n"
B_INIT = "        self.B = nn.Parameter(torch.zeros(rank, out_dim))\n"
A_INIT = "        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))\n"
FREEZE = "        param.requires_grad = name.split(\".\")[0] in HEAD_MODULES\n"
LINEAR = "        self.linear = linear\n"
LINEAR_FORWARD = "        return self.linear(x) + self.lora(x)\n"
WANTED = "        return modules_to_adapt is None or child in modules_to_adapt.get(component, ())\n"

BROKEN = [
    Mutant("scaling_alpha_over_rank", "scales by alpha / rank, as peft does, where this course scales by alpha",
           ((FORWARD, "        return self.alpha / self.rank * (x @ self.A @ self.B)\n"),),
           ("test_forward_formula", "test_forward_reads_A_and_B_at_every_call",
            "test_forward_keeps_float64_precision")),
    Mutant("no_alpha", "forgets the factor: x @ A @ B",
           ((FORWARD, "        return x @ self.A @ self.B\n"),),
           ("test_forward_formula", "test_forward_reads_A_and_B_at_every_call")),
    Mutant("b_random", "B initialised randomly, so the model changes the moment it is wrapped",
           ((B_INIT, "        self.B = nn.Parameter(torch.randn(rank, out_dim))\n"),), ("test_B_starts_at_zero",)),
    Mutant("a_zero", "A initialised to zero, so no gradient ever reaches B",
           ((A_INIT, "        nn.init.zeros_(self.A)\n"),), ("test_A_starts_random_and_full_rank",)),
    Mutant("head_frozen", "\"Freeze the model parameters\" read as every parameter, the new head too",
           ((FREEZE, "        param.requires_grad = False\n"),),
           ("test_freezes_the_body_and_keeps_the_head_trainable",)),
    Mutant("children_matched_anywhere", "modules_to_adapt matched as a suffix anywhere: output.dense also adapts "
           "attention.output.dense",
           (("        found = BLOCK_CHILD.search(name)\n",
             "        found = re.search(r\"(?P<component>[^.]+)\\.(?P<child>[^.]+)$\", name)\n"),),
           ("test_wraps_the_named_children_of_each_blocks_components",)),
    Mutant("mapping_ignored", "adapts the default children whatever modules_to_adapt says",
           ((WANTED, "        return True\n"),), ("test_wraps_the_named_children_of_each_blocks_components",)),
    Mutant("empty_mapping_as_default", "an empty modules_to_adapt taken as None: adapts everything",
           ((WANTED, "        return not modules_to_adapt or child in modules_to_adapt.get(component, ())\n"),),
           ("test_what_names_no_child_of_a_block_matches_nothing",)),
    Mutant("lora_left_on_the_cpu_in_float32", "the LoRALayer is not moved to the linear layer's device and dtype",
           (("        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)\n", ""),),
           ("test_lora_follows_the_dtype",)),
    Mutant("lora_layer_with_bias", "the LoRALayer adds a bias of its own to the update",
           ((B_INIT, B_INIT + "        self.bias = nn.Parameter(torch.zeros(out_dim))\n"),
            (FORWARD, "        return self.alpha * (x @ self.A @ self.B) + self.bias\n")),
           ("test_holds_only_A_and_B",)),
    Mutant("input_detached", "the update computed from x.detach(): no gradient reaches the input through LoRA",
           ((FORWARD, "        return self.alpha * (x.detach() @ self.A @ self.B)\n"),),
           ("test_gradients_reach_A_B_and_the_input",)),
    Mutant("rank_zero_allowed", "only negative sizes raise: a rank of 0 is taken",
           (("            if value < 1:\n", "            if value < 0:\n"),),
           ("test_bad_arguments_raise_value_error",)),
    Mutant("linear_frozen_by_wrapper", "LinearLoRA freezes the layer it wraps, which is the caller's job",
           ((LINEAR, "        self.linear = linear.requires_grad_(False)\n"),),
           ("test_leaves_requires_grad_as_it_was",)),
    Mutant("base_path_detached", "LinearLoRA computes linear(x.detach()): no gradient reaches x through the base",
           ((LINEAR_FORWARD, "        return self.linear(x.detach()) + self.lora(x)\n"),),
           ("test_gradients_reach_the_input_through_both_paths",)),
    Mutant("nothing_frozen", "initialize_base_model leaves the pretrained body trainable",
           ((FREEZE, "        param.requires_grad = True\n"),),
           ("test_freezes_the_body_and_keeps_the_head_trainable",)),
    Mutant("blocks_only_below_the_root",
           "a block is found only under a parent (.layer.<i>): add_lora(model.bert.encoder) adapts nothing",
           (("(?:^|\\.)layer", "\\.layer"),), ("test_adapts_the_blocks_of_a_part_of_the_model",)),
    Mutant("silent_no_match", "nothing adapted is no error: add_lora returns the model untouched",
           (("    if not chosen:\n", "    if chosen is None:\n"),),
           ("test_no_match_raises_value_error_listing_the_linear_layers",)),
    Mutant("add_lora_freezes_the_rest", "add_lora freezes the model before wrapping, which is not its job",
           (("    for name in chosen:\n", "    model.requires_grad_(False)\n    for name in chosen:\n"),),
           ("test_add_lora_keeps_a_trainable_body_trainable",)),
    Mutant("rank_and_alpha_swapped", "LinearLoRA(layer, alpha, rank)",
           (("(model.get_submodule(name), rank, alpha)", "(model.get_submodule(name), alpha, rank)"),),
           ("test_passes_rank_alpha_and_dropout_to_every_lora",)),
    Mutant("add_lora_returns_none", "add_lora works in place and returns nothing",
           (("    return model\n", "    return None\n"),), ("test_default_targets",)),
]

CORRECT = [
    Mutant("reference", "the reference itself, unchanged", ()),
    Mutant("einsum_forward", "the forward pass with einsum",
           ((FORWARD, "        return self.alpha * torch.einsum(\"...i,ir,ro->...o\", x, self.A, self.B)\n"),)),
]

# Graded by lora-bert's suite: its parts and declared dependencies, and this reference's BLOCK_CHILD in add_lora's part.
PART_FILES = {**isolation.PART_FILES, "BLOCK_CHILD": "test_add_lora.py"}
DEPENDENCIES = isolation.DEPENDENCIES

# The untouched template with every graded part doing nothing useful (mutants.do_nothing): it must score 0.
DO_NOTHING = {
    "LoRALayer.__init__": "super().__init__()", "LoRALayer.forward": "return x",
    "LinearLoRA.__init__": "super().__init__()\n        self.linear = linear",
    "LinearLoRA.forward": "return self.linear(x)",
    "initialize_base_model": "return None, None", "add_lora": "return model",
}
