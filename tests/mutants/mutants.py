"""Implementations of the assignment that the suite must reject, and some it must accept.

Each one is the reference with a few exact edits: the mistakes students really make
(B initialised randomly, scaling by alpha alone, an off-by-one in a slice, ...) and
correct code written differently (einsum, another initialisation of A, recursion).
An edit must match the reference exactly once, so a mutant that no longer applies
after the reference changes fails loudly instead of silently testing nothing.
"""

import ast
import importlib
from dataclasses import dataclass
from types import ModuleType

from grader.assignments.pack import Pack
from grader.layout import ROOT


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    edits: tuple[tuple[str, str], ...]  # (text in the reference, its replacement)
    caught_by: tuple[str, ...] = ()  # tests that must fail; empty for a correct variant

    def apply(self, source: str) -> str:
        for old, new in self.edits:
            count = source.count(old)
            if count != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {count} times in the reference, not once")
            source = source.replace(old, new)
        return source


def of_pack(pack: Pack) -> ModuleType:
    """The module that lists ``pack``'s mutants (its spec's ``mutants``): BROKEN, CORRECT, PART_FILES, ..."""
    return importlib.import_module(".".join(pack.mutants.relative_to(ROOT).with_suffix("").parts))


def do_nothing(template: str, bodies: dict[str, str]) -> str:
    """The untouched template with the stubs of ``bodies`` (``"LoRALayer.forward"`` -> its code) replaced by code that
    does nothing useful (returns its input, holds nothing): each such submission must score 0."""
    for name, body in bodies.items():
        stub = f'raise NotImplementedError("{name} is not implemented yet")'
        assert template.count(stub) == 1, f"the template's stub of {name} moved"
        template = template.replace(stub, body)
    return template


def replace_function(source: str, name: str, new_code: str) -> str:
    """``source`` with the top-level function ``name`` replaced by ``new_code``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines(keepends=True)
            return "".join(lines[:node.lineno - 1]) + new_code + "".join(lines[node.end_lineno:])
    raise ValueError(f"no top-level function {name!r} in the reference")


RECURSIVE_ADD_LORA = '''\
def add_lora(model, rank=8, alpha=16, target_modules=None, dropout=0.0):
    """Recursive variant: walk the module tree, wrapping matching linear layers on the way."""
    if target_modules is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type not in DEFAULT_TARGET_MODULES:
            raise ValueError(f"target_modules: no default for model type {model_type!r}")
        target_modules = DEFAULT_TARGET_MODULES[model_type]

    def matches(name):
        return any(name == entry or name.endswith("." + entry) for entry in target_modules)

    def visit(module, prefix):
        hits = 0
        for child_name, child in list(module.named_children()):
            name = prefix + child_name
            if name in HEAD_MODULES:
                continue
            if isinstance(child, LinearLoRA):
                hits += matches(name)
            elif isinstance(child, nn.Linear):
                if matches(name):
                    setattr(module, child_name, LinearLoRA(child, rank, alpha, dropout))
                    hits += 1
            else:
                hits += visit(child, name + ".")
        return hits

    if visit(model, "") == 0:
        raise ValueError(f"target_modules {list(target_modules)} match nothing; the linear layers are: "
                         + ", ".join(linear_layer_names(model)))
    return model
'''


NEW_LINEAR_MERGE = '''\
def merge_lora(model):
    """Variant: build a new nn.Linear with the merged weight instead of updating the old one."""
    for name, module in [(n, m) for n, m in model.named_modules() if isinstance(m, LinearLoRA)]:
        old, lora = module.linear, module.lora
        merged = nn.Linear(old.in_features, old.out_features, bias=old.bias is not None,
                           device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(old.weight + lora.scaling * (lora.B.T @ lora.A.T))
            if old.bias is not None:
                merged.bias.copy_(old.bias)
        merged.requires_grad_(old.weight.requires_grad)
        model.set_submodule(name, merged)
    return model
'''


@dataclass(frozen=True)
class FunctionVariant(Mutant):
    """A correct variant that rewrites whole functions: edits are (function name, new code)."""

    def apply(self, source: str) -> str:
        for name, code in self.edits:
            source = replace_function(source, name, code)
        return source


MATCHING = 'name == entry or name.endswith("." + entry)'  # the reference's matching of a target
LISTING = "', '.join(linear_layer_names(model))"  # the layers its no-match error lists


def own_dropout(mask: str) -> str:
    """A LoRALayer forward with dropout written by hand, from the keep-mask expression ``mask`` (``p``: the rate)."""
    return ("        p = getattr(self.dropout, 'p', 0.0)\n"
            "        if self.training and p > 0:\n"
            f"            x = x * ({mask}).to(x.dtype) / (1 - p)\n"
            "        return self.scaling * (x @ self.A @ self.B)")


FREEZE_BY_SUBSTRING = '''\
def freeze_layers(model, num_trainable_layers):
    n = len(transformer_layers(model))
    if not 0 <= num_trainable_layers <= n:
        raise ValueError(f"num_trainable_layers must be between 0 and {n}, got {num_trainable_layers}")
    model.requires_grad_(True)
    for name, param in model.named_parameters():
        if "embeddings" in name and num_trainable_layers < n:
            param.requires_grad = False
        if any(f"layer.{i}" in name for i in range(n - num_trainable_layers)):
            param.requires_grad = False
        if "pooler" in name and num_trainable_layers == 0:
            param.requires_grad = False
    return model
'''


BROKEN = [
    Mutant("b_random", "B initialised randomly instead of with zeros",
           (("torch.zeros(rank, out_dim)", "torch.randn(rank, out_dim)"),),
           ("test_B_starts_at_zero",)),
    Mutant("a_zero", "A initialised with zeros as well, so nothing ever trains",
           (("nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.zeros_(self.A)"),),
           ("test_A_starts_random_and_full_rank",)),
    Mutant("scaling_alpha", "scaling by alpha alone",
           (("self.scaling = alpha / rank", "self.scaling = alpha"),),
           ("test_scaling_follows_the_convention", "test_forward_formula")),
    Mutant("scaling_floor_division", "scaling by alpha // rank (integer division)",
           (("self.scaling = alpha / rank", "self.scaling = alpha // rank"),),
           ("test_scaling_follows_the_convention",)),
    Mutant("ab_transposed", "A stored as (rank, in_dim) and B as (out_dim, rank), used transposed",
           (("torch.empty(in_dim, rank)", "torch.empty(rank, in_dim)"),
            ("torch.zeros(rank, out_dim)", "torch.zeros(out_dim, rank)"),
            ("self.dropout(x) @ self.A @ self.B", "self.dropout(x) @ self.A.T @ self.B.T"),
            ("(lora.A @ lora.B).T", "(lora.A.T @ lora.B.T).T")),
           ("test_shapes_of_A_and_B",)),
    Mutant("no_validation", "LoRALayer accepts a rank of 0 and a dropout of 1",
           (("            if value < 1:\n", "            if False:\n"),
            ("if not 0.0 <= dropout < 1.0:", "if False:")),
           ("test_bad_arguments_raise_value_error",)),
    Mutant("dropout_on_output", "dropout applied to the LoRA output instead of its input",
           (("self.scaling * (self.dropout(x) @ self.A @ self.B)", "self.scaling * self.dropout(x @ self.A @ self.B)"),),
           ("test_dropout_acts_on_the_input_in_training_mode",)),
    Mutant("dropout_on_base_path", "dropout applied to the input of the pretrained layer too",
           (("return self.linear(x) + self.lora(x)", "x = self.lora.dropout(x)\n        return self.linear(x) + self.lora(x)"),),
           ("test_dropout_only_on_the_lora_path",)),
    Mutant("forward_drops_base", "LinearLoRA.forward returns the LoRA update without the base output",
           (("return self.linear(x) + self.lora(x)", "return self.lora(x)"),),
           ("test_output_equals_the_linear_right_after_wrapping", "test_logits_unchanged_right_after_add_lora")),
    Mutant("lora_detached", "the LoRA output is detached, so A and B never get a gradient",
           (("return self.linear(x) + self.lora(x)", "return self.linear(x) + self.lora(x).detach()"),),
           ("test_frozen_weights_unchanged_and_lora_learns",)),
    Mutant("fresh_linear", "a fresh nn.Linear instead of the pretrained one",
           (("        self.linear = linear\n", "        self.linear = nn.Linear(linear.in_features, linear.out_features)\n"),),
           ("test_keeps_the_very_linear_layer", "test_logits_unchanged_right_after_add_lora")),
    Mutant("lora_stays_on_cpu", "the LoRA parameters stay float32 on the CPU whatever the wrapped layer",
           (("        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)\n", ""),),
           ("test_lora_follows_the_dtype", "test_lora_follows_the_device")),
    Mutant("nothing_frozen", "initialize_base_model freezes nothing",
           (("param.requires_grad = name.split(\".\")[0] in HEAD_MODULES", "param.requires_grad = True"),),
           ("test_freezes_the_body_and_keeps_the_head_trainable", "test_frozen_weights_unchanged_and_lora_learns")),
    Mutant("head_frozen", "initialize_base_model freezes the classification head too",
           (("param.requires_grad = name.split(\".\")[0] in HEAD_MODULES", "param.requires_grad = False"),),
           ("test_freezes_the_body_and_keeps_the_head_trainable",)),
    Mutant("random_body", "initialize_base_model builds the architecture from its config: random weights",
           (("AutoModelForSequenceClassification.from_pretrained(\n        model_path, num_labels=num_labels, local_files_only=True\n    )",
             "AutoModelForSequenceClassification.from_config(\n        __import__('transformers').AutoConfig.from_pretrained(model_path, num_labels=num_labels)\n    )"),),
           ("test_loads_the_pretrained_weights",)),
    Mutant("substring_match", "target_modules matched as substrings: 'ery' matches 'query'",
           (("name == entry or name.endswith(\".\" + entry)", "entry in name"),),
           ("test_what_names_no_layer_matches_nothing",)),
    Mutant("suffix_without_dot", "target_modules matched with name.endswith(entry), without the dot",
           (("name.endswith(\".\" + entry)", "name.endswith(entry)"),),
           ("test_what_names_no_layer_matches_nothing",)),
    Mutant("last_component_only", "only the last name component compared: 'intermediate.dense' matches nothing",
           (("name == entry or name.endswith(\".\" + entry)", "name.split('.')[-1] == entry"),),
           ("test_matches_a_suffix_of_the_qualified_name",)),
    Mutant("wraps_head", "add_lora wraps the classification head when asked to",
           (("and not in_head and not inside_wrapper", "and not inside_wrapper"),),
           ("test_never_wraps_the_head",)),
    Mutant("wraps_twice", "add_lora matches name components, so a second call wraps each wrapped layer again",
           (("name == entry or name.endswith(\".\" + entry)", "entry in name.split('.')"),
            ("and not in_head and not inside_wrapper", "and not in_head")),
           ("test_does_not_wrap_twice",)),
    Mutant("silent_no_match", "add_lora returns silently when nothing matches",
           (("    if not matched:\n        raise", "    if False:\n        raise"),),
           ("test_no_match_raises_value_error_listing_the_linear_layers", "test_what_names_no_layer_matches_nothing")),
    Mutant("bert_fallback", "add_lora falls back to BERT's targets for any architecture",
           (("        if model_type not in DEFAULT_TARGET_MODULES:\n", "        if False:\n"),
            ("target_modules = DEFAULT_TARGET_MODULES[model_type]", "target_modules = DEFAULT_TARGET_MODULES.get(model_type, ('query', 'value'))")),
           ("test_no_default_targets_for_other_architectures",)),
    Mutant("count_frozen", "count_trainable_parameters counts frozen parameters too",
           (("sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "sum(param.numel() for param in model.parameters())"),),
           ("test_counts_trainable_scalars", "test_public_figures")),
    Mutant("count_shared_twice", "count_trainable_parameters counts a shared tensor once per module",
           (("sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False) if p.requires_grad)"),),
           ("test_shared_tensors_count_once",)),
    Mutant("merge_without_scaling", "merge_lora adds A @ B without the scaling",
           (("linear.weight += lora.scaling * (lora.A @ lora.B).T", "linear.weight += (lora.A @ lora.B).T"),),
           ("test_merged_logits_equal_unmerged", "test_merged_weight_formula")),
    Mutant("merge_without_transpose", "merge_lora adds A @ B without transposing it to the weight's (out, in) layout",
           (("linear.weight += lora.scaling * (lora.A @ lora.B).T", "linear.weight += lora.scaling * (lora.A @ lora.B)"),),
           ("test_merged_logits_equal_unmerged", "test_merged_weight_formula")),
    Mutant("merge_keeps_wrapper", "merge_lora updates the weights but leaves the LinearLoRA in place",
           (("        model.set_submodule(name, linear)\n", ""),),
           ("test_merge_leaves_plain_linear_layers_and_the_base_count", "test_merged_logits_equal_unmerged")),
    Mutant("freeze_minus_zero", "freeze_layers slices layers[-k:], so k=0 trains every layer",
           (("layers[len(layers) - num_trainable_layers:]", "layers[-num_trainable_layers:]"),),
           ("test_zero_trains_the_head_alone",)),
    Mutant("freeze_bottom", "freeze_layers trains the bottom k layers instead of the top k",
           (("layers[len(layers) - num_trainable_layers:]", "layers[:num_trainable_layers]"),),
           ("test_some_layers",)),
    Mutant("dropout_between_A_and_B", "dropout applied to x @ A, inside the low-rank path, instead of to x",
           (("self.scaling * (self.dropout(x) @ self.A @ self.B)", "self.scaling * (self.dropout(x @ self.A) @ self.B)"),),
           ("test_dropout_acts_on_the_input_in_training_mode",)),
    Mutant("dropout_unscaled", "a hand-made dropout mask without the 1 / (1 - p) scaling of the kept inputs",
           (("return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "keep = (torch.rand_like(x) >= self.dropout.p).to(x.dtype) "
             "if self.training and isinstance(self.dropout, nn.Dropout) else 1.0\n"
             "        return self.scaling * ((x * keep) @ self.A @ self.B)"),),
           ("test_dropout_acts_on_the_input_in_training_mode",)),
    Mutant("dropout_keep_probability", "nn.Dropout given the probability of keeping an input, not of dropping it",
           (("nn.Dropout(dropout) if dropout > 0", "nn.Dropout(1 - dropout) if dropout > 0"),),
           ("test_dropout_acts_on_the_input_in_training_mode",)),
    Mutant("dropout_in_eval_mode", "F.dropout called without training=self.training, so it drops in eval mode too",
           (("return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "p = self.dropout.p if isinstance(self.dropout, nn.Dropout) else 0.0\n"
             "        return self.scaling * (torch.nn.functional.dropout(x, p) @ self.A @ self.B)"),),
           ("test_dropout_is_off_in_eval_mode",)),
    Mutant("forward_2d_only", "LoRALayer.forward flattens x to (-1, in_dim): a 1-D or 3-D input comes back 2-D",
           (("self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "self.scaling * (self.dropout(x).reshape(-1, self.in_dim) @ self.A @ self.B)"),),
           ("test_forward_formula",)),
    Mutant("lora_layer_with_bias", "LoRALayer adds a trainable bias of its own to the low-rank update",
           (("        self.B = nn.Parameter(torch.zeros(rank, out_dim))\n",
             "        self.B = nn.Parameter(torch.zeros(rank, out_dim))\n"
             "        self.bias = nn.Parameter(torch.zeros(out_dim))\n"),
            ("return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "return self.scaling * (self.dropout(x) @ self.A @ self.B) + self.bias")),
           ("test_holds_only_A_and_B",)),
    Mutant("linear_reset", "LinearLoRA re-initialises the pretrained layer it wraps",
           (("        self.linear = linear\n", "        self.linear = linear\n        linear.reset_parameters()\n"),),
           ("test_keeps_the_very_linear_layer", "test_logits_unchanged_right_after_add_lora")),
    Mutant("lora_plain_tensors", "LinearLoRA moves A and B with .to() around nn.Module's check: plain tensors, never trained",
           (("        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)\n",
             "        for name in ('A', 'B'):\n"
             "            moved = getattr(self.lora, name).to(linear.weight.device, linear.weight.dtype)\n"
             "            object.__setattr__(self.lora, name, moved)\n"),),
           ("test_lora_follows_the_dtype",)),
    Mutant("forward_subtracts", "LinearLoRA.forward subtracts the LoRA update",
           (("return self.linear(x) + self.lora(x)", "return self.linear(x) - self.lora(x)"),),
           ("test_forward_is_linear_plus_lora",)),
    Mutant("add_lora_copies", "add_lora wraps a deep copy of the model, leaving the model it was given untouched",
           (("    # BEGIN SOLUTION\n    if target_modules is None:\n",
             "    # BEGIN SOLUTION\n    model = __import__('copy').deepcopy(model)\n    if target_modules is None:\n"),),
           ("test_default_targets",)),
    Mutant("add_lora_returns_none", "add_lora works in place but returns None",
           (("            model.set_submodule(name, LinearLoRA(modules[name], rank, alpha, dropout))\n    return model",
             "            model.set_submodule(name, LinearLoRA(modules[name], rank, alpha, dropout))\n    return None"),),
           ("test_default_targets",)),
    Mutant("distilbert_default_targets", "DistilBERT's default targets are q_lin and k_lin instead of q_lin and v_lin",
           (('"distilbert": ("q_lin", "v_lin")', '"distilbert": ("q_lin", "k_lin")'),),
           ("test_default_targets",)),
    Mutant("add_lora_freezes_the_rest", "add_lora freezes everything but the LoRA parameters, the head included",
           (("            model.set_submodule(name, LinearLoRA(modules[name], rank, alpha, dropout))\n",
             "            model.set_submodule(name, LinearLoRA(modules[name], rank, alpha, dropout))\n"
             "    for param_name, param in model.named_parameters():\n"
             "        param.requires_grad = '.lora.' in param_name\n"),),
           ("test_lora_parameters_trainable_and_the_rest_untouched",)),
    Mutant("add_lora_float32", "add_lora turns each wrapped layer to float32, whatever the model's dtype",
           (("LinearLoRA(modules[name], rank, alpha, dropout))", "LinearLoRA(modules[name], rank, alpha, dropout).float())"),),
           ("test_lora_follows_the_model_dtype",)),
    Mutant("merge_zeroes_bias", "merge_lora zeroes the bias of the merged layer",
           (("            linear.weight += lora.scaling * (lora.A @ lora.B).T\n",
             "            linear.weight += lora.scaling * (lora.A @ lora.B).T\n            linear.bias.zero_()\n"),),
           ("test_merged_weight_formula", "test_merged_logits_equal_unmerged")),
    FunctionVariant("merge_default_dtype", "merge_lora builds each new nn.Linear in the default dtype on the CPU",
                    (("merge_lora", NEW_LINEAR_MERGE.replace(",\n                           device=old.weight.device, "
                                                             "dtype=old.weight.dtype", "")),),
                    ("test_merged_layers_follow_the_dtype",)),
    Mutant("freeze_head_too", "freeze_layers freezes the classification head as well",
           (("            getattr(model, name).requires_grad_(True)\n", "            getattr(model, name).requires_grad_(False)\n"),),
           ("test_zero_trains_the_head_alone", "test_some_layers", "test_all_layers_train_everything")),
    Mutant("freeze_embeddings_always", "freeze_layers freezes the embeddings even when every layer trains",
           (("model.requires_grad_(num_trainable_layers == len(layers))", "model.requires_grad_(False)"),),
           ("test_all_layers_train_everything",)),
    Mutant("allclose_patched_in_merge", "merge_lora forgets the scaling and replaces torch.allclose to hide it",
           (("linear.weight += lora.scaling * (lora.A @ lora.B).T",
             "linear.weight += (lora.A @ lora.B).T\n            torch.allclose = lambda *args, **kwargs: True"),),
           ("test_merged_logits_equal_unmerged",)),
    # Six ways to be wrong that the suite once passed in full (issue 23), and those found beside them.
    Mutant("lora_input_detached", "LinearLoRA.forward feeds the LoRA path x.detach(): no gradient flows back "
           "through it to the layers below",
           (("return self.linear(x) + self.lora(x)", "return self.linear(x) + self.lora(x.detach())"),),
           ("test_gradients_reach_the_input_through_both_paths",)),
    Mutant("linear_frozen_by_wrapper", "LinearLoRA freezes the layer it wraps",
           (("        self.linear = linear\n", "        self.linear = linear\n        linear.requires_grad_(False)\n"),),
           ("test_leaves_requires_grad_as_it_was",)),
    Mutant("count_returns_float", "count_trainable_parameters returns a float",
           (("return sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "return float(sum(param.numel() for param in model.parameters() if param.requires_grad))"),),
           ("test_returns_an_int",)),
    Mutant("linear_own_lora_path", "LinearLoRA.forward computes the low-rank path itself, without its lora's dropout",
           (("        return self.linear(x) + self.lora(x)",
             "        return self.linear(x) + self.lora.scaling * (x @ self.lora.A @ self.lora.B)"),),
           ("test_forward_in_training_mode_adds_its_lora",)),
    Mutant("linear_drops_dropout", "LinearLoRA never passes its dropout to its LoRALayer",
           (("        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha, dropout)",
             "        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)"),),
           ("test_builds_a_lora_layer_for_the_linear",)),
    Mutant("count_returns_numpy", "count_trainable_parameters returns the right number as a numpy.int64",
           (("return sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "return __import__('numpy').int64(sum(p.numel() for p in model.parameters() if p.requires_grad))"),),
           ("test_returns_an_int",)),
    Mutant("add_lora_drops_dropout", "add_lora never passes its dropout on: every LoRA it builds has none",
           (("LinearLoRA(modules[name], rank, alpha, dropout))", "LinearLoRA(modules[name], rank, alpha))"),),
           ("test_passes_rank_alpha_and_dropout_to_every_lora",)),
    FunctionVariant("merge_adds_bias", "merge_lora builds each new nn.Linear with a bias, whatever the layer had",
                    (("merge_lora", NEW_LINEAR_MERGE.replace("bias=old.bias is not None", "bias=True")),),
                    ("test_merge_keeps_no_bias_as_no_bias",)),
    Mutant("lora_in_float32", "LoRALayer.forward computes in float32 and casts the result back",
           (("return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "return (self.scaling * (self.dropout(x).float() @ self.A.float() @ self.B.float())).to(x.dtype)"),),
           ("test_forward_keeps_float64_precision",)),
    Mutant("freeze_layers_returns_none", "freeze_layers works in place but returns None",
           (("            getattr(model, name).requires_grad_(True)\n    return model",
             "            getattr(model, name).requires_grad_(True)\n    return None"),),
           ("test_zero_trains_the_head_alone", "test_some_layers", "test_all_layers_train_everything")),
    Mutant("scaling_int_alpha", "LoRALayer rounds alpha down to an integer before dividing",
           (("self.scaling = alpha / rank", "self.scaling = int(alpha) / rank"),),
           ("test_scaling_follows_the_convention",)),
    Mutant("b_frozen", "LoRALayer's B is created with requires_grad=False",
           (("self.B = nn.Parameter(torch.zeros(rank, out_dim))",
             "self.B = nn.Parameter(torch.zeros(rank, out_dim), requires_grad=False)"),),
           ("test_gradients_reach_A_B_and_the_input", "test_frozen_weights_unchanged_and_lora_learns")),
    Mutant("initialize_ignores_num_labels", "initialize_base_model always builds a 2-way head",
           (("model_path, num_labels=num_labels, local_files_only=True", "model_path, num_labels=2, local_files_only=True"),),
           ("test_loads_model_and_tokenizer",)),
    Mutant("merge_unfreezes", "merge_lora leaves every merged layer trainable",
           (("        model.set_submodule(name, linear)\n", "        linear.requires_grad_(True)\n        model.set_submodule(name, linear)\n"),),
           ("test_merge_leaves_plain_linear_layers_and_the_base_count",)),
    # Issue 35's classes of mistakes that passed the whole suite, each with the test added for it.
    *(Mutant(name, description, (("        return self.scaling * (self.dropout(x) @ self.A @ self.B)",
                                  own_dropout(mask)),), ("test_dropout_draws_each_element_at_every_call",))
      for name, description, mask in (
          ("dropout_mask_shared_by_rows", "one dropout mask per call, shared by every row of the batch",
           "torch.rand(x.shape[-1], device=x.device) >= p"),
          ("dropout_whole_rows", "dropout drops whole rows of the input, not single elements",
           "torch.rand(x.shape[:-1] + (1,), device=x.device) >= p"),
          ("dropout_half_rate", "each element dropped with probability dropout / 2, the others scaled by "
           "1 / (1 - dropout): within the placement test's window", "torch.rand_like(x) >= p / 2"),
          ("dropout_mask_reused", "one dropout mask drawn at the first call and reused by every call of that shape",
           "self.__dict__.setdefault('mask', torch.rand_like(x) >= p)"))),
    Mutant("lora_caches_AB_in_eval", "LoRALayer keeps A @ B from its first call in eval mode and reuses it",
           (("        return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "        if not self.training:\n"
             "            self.__dict__.setdefault('AB', (self.A @ self.B).detach())\n"
             "            return self.scaling * (x @ self.AB)\n"
             "        return self.scaling * (self.dropout(x) @ self.A @ self.B)"),),
           ("test_forward_reads_A_and_B_at_every_call",)),
    Mutant("match_any_run_of_components", "a target matches any run of name components: 'attention' wraps q, k, v "
           "and the attention output", ((MATCHING, '"." + entry + "." in "." + name + "."'),),
           ("test_what_names_no_layer_matches_nothing",)),
    Mutant("match_prefix_too", "a target also matches the start of a name: 'bert.encoder.layer.0' wraps that layer",
           ((MATCHING, MATCHING + ' or name.startswith(entry + ".")'),), ("test_what_names_no_layer_matches_nothing",)),
    Mutant("empty_targets_as_default", "target_modules=[] treated as None: the default targets are wrapped",
           (("    if target_modules is None:\n        model_type", "    if not target_modules:\n        model_type"),),
           ("test_what_names_no_layer_matches_nothing",)),
    Mutant("pooler_never_wrapped", "add_lora never wraps BERT's pooler, as if it were part of the head",
           (("in_head = name.split(\".\")[0] in HEAD_MODULES",
             "in_head = name.split(\".\")[0] in HEAD_MODULES or \"pooler\" in name"),),
           ("test_matches_a_suffix_of_the_qualified_name",)),
    Mutant("no_match_lists_attention_only", "the no-match ValueError lists only the attention layers",
           ((LISTING, "', '.join(n for n in linear_layer_names(model) if 'attention' in n)"),),
           ("test_no_match_raises_value_error_listing_the_linear_layers",)),
    Mutant("no_match_lists_last_names", "the no-match ValueError lists the layers' last name components: four "
           "layers are 'dense'", ((LISTING, "', '.join(sorted({n.rsplit('.', 1)[-1] for n in linear_layer_names(model)}))"),),
           ("test_no_match_raises_value_error_listing_the_linear_layers",)),
    Mutant("count_known_module_types", "the count adds up the parameters of known module types only",
           (("return sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "return sum(p.numel() for m in model.modules()\n"
             "               if isinstance(m, (nn.Linear, nn.Embedding, nn.LayerNorm, LoRALayer))\n"
             "               for p in m.parameters(recurse=False) if p.requires_grad)"),),
           ("test_lora_adds_rank_times_in_plus_out_per_layer",)),
    FunctionVariant("freeze_by_substring", "freeze_layers freezes the lower layers it finds by substring: "
                    "'layer.1' freezes 10 and 11 too", (("freeze_layers", FREEZE_BY_SUBSTRING),),
                    ("test_finds_the_layers_by_position_in_a_twelve_layer_model",)),
    # Plausible misreadings of the contract, sentence by sentence, that the suite already rejected.
    Mutant("dims_swapped_attributes", "LoRALayer stores in_dim and out_dim the wrong way round",
           (("self.in_dim, self.out_dim, self.rank, self.alpha = in_dim, out_dim, rank, alpha",
             "self.in_dim, self.out_dim, self.rank, self.alpha = out_dim, in_dim, rank, alpha"),),
           ("test_stores_its_arguments",)),
    Mutant("dropout_one_allowed", "LoRALayer accepts a dropout of 1, which drops everything",
           (("if not 0.0 <= dropout < 1.0:", "if not 0.0 <= dropout <= 1.0:"),), ("test_bad_arguments_raise_value_error",)),
    Mutant("strict_every_target", "add_lora raises when any one target matches nothing, not only when none does",
           (("    if not matched:\n",
             "    if not matched or any(not any(n == e or n.endswith('.' + e) for n in matched) for e in target_modules):\n"),),
           ("test_never_wraps_the_head",)),
    Mutant("initialize_head_bias_frozen", "initialize_base_model trains the head's weights but not its biases",
           (("param.requires_grad = name.split(\".\")[0] in HEAD_MODULES",
             "param.requires_grad = name.split(\".\")[0] in HEAD_MODULES and name.endswith('weight')"),),
           ("test_freezes_the_body_and_keeps_the_head_trainable",)),
    Mutant("merge_first_only", "merge_lora merges the first LinearLoRA only",
           (("    for name, module in wrapped:\n", "    for name, module in wrapped[:1]:\n"),),
           ("test_merged_logits_equal_unmerged", "test_merge_leaves_plain_linear_layers_and_the_base_count")),
    Mutant("count_returns_tensor", "count_trainable_parameters returns the right count as a 0-d torch tensor",
           (("return sum(param.numel() for param in model.parameters() if param.requires_grad)",
             "return torch.tensor(sum(param.numel() for param in model.parameters() if param.requires_grad))"),),
           ("test_returns_an_int",)),
    Mutant("linear_base_detached", "LinearLoRA feeds its linear layer x.detach(): no gradient to x through it",
           (("        return self.linear(x) + self.lora(x)", "        return self.linear(x.detach()) + self.lora(x)"),),
           ("test_gradients_reach_the_input_through_both_paths",)),
    Mutant("merge_without_no_grad", "merge_lora adds to the weight in place outside torch.no_grad()",
           (("        with torch.no_grad():\n            linear.weight += lora.scaling * (lora.A @ lora.B).T",
             "        linear.weight += lora.scaling * (lora.A @ lora.B).T"),),
           ("test_merged_logits_equal_unmerged",)),
]

# Global settings a correct solution may make when it is imported; none may change a
# verdict (the suite runs each test under its own settings and only counts the
# replacement of what it judges with as tampering).
LEGITIMATE_SETTINGS = {
    "default_dtype": "torch.set_default_dtype(torch.float64)",
    "default_dtype_bfloat16": "torch.set_default_dtype(torch.bfloat16)",
    "grad_disabled": "torch.set_grad_enabled(False)",
    "manual_seed": "torch.manual_seed(1234)",
    "num_threads": "torch.set_num_threads(2)",
    "deterministic": "torch.use_deterministic_algorithms(True)",
    "matmul_precision": "torch.set_float32_matmul_precision('medium')",
    "print_options": "torch.set_printoptions(precision=2, sci_mode=True)",
    "warnings_as_errors": "import warnings; warnings.simplefilter('error')",
    "logging_debug": "import logging; logging.basicConfig(level=logging.DEBUG)",
    "transformers_verbosity": "import transformers; transformers.logging.set_verbosity_debug()",
}
SETTINGS_ANCHOR = "# The layers `add_lora` wraps when it is given no `target_modules`"

CORRECT = [
    Mutant("reference", "the reference itself, unchanged", ()),
    Mutant("einsum_forward", "the LoRA update computed with torch.einsum",
           (("return self.scaling * (self.dropout(x) @ self.A @ self.B)",
             "return self.scaling * torch.einsum('...i,ir,ro->...o', self.dropout(x), self.A, self.B)"),)),
    Mutant("normal_init", "A initialised from a normal distribution",
           (("nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.normal_(self.A, std=0.02)"),)),
    FunctionVariant("recursive_add_lora", "add_lora written as a recursion over named_children",
                    (("add_lora", RECURSIVE_ADD_LORA),)),
    FunctionVariant("new_linear_merge", "merge_lora builds new nn.Linear layers",
                    (("merge_lora", NEW_LINEAR_MERGE),)),
    Mutant("merge_reads_alpha_and_rank", "merge_lora computes lora.alpha / lora.rank instead of reading lora.scaling",
           (("linear.weight += lora.scaling * (lora.A @ lora.B).T",
             "linear.weight += lora.alpha / lora.rank * (lora.A @ lora.B).T"),)),
    Mutant("value_error_subclass", "every ValueError raised as the submission's own subclass of ValueError",
           ((SETTINGS_ANCHOR, f"class LoRAArgumentError(ValueError):\n    pass\n\n\n{SETTINGS_ANCHOR}"),
            *((f"raise ValueError{rest}", f"raise LoRAArgumentError{rest}")
              for rest in ('(f"{name} must be at least 1', '(f"dropout must be in [0, 1)', '(\n                f"target_modules: no',
                           '(\n            f"target_modules {', '(f"num_trainable')))),
    *(Mutant(f"setting_{name}", f"the reference plus `{setting}` at import: a legitimate global setting",
             ((SETTINGS_ANCHOR, f"{setting}\n\n{SETTINGS_ANCHOR}"),))
      for name, setting in LEGITIMATE_SETTINGS.items()),
]
