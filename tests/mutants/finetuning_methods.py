"""The finetuning-methods pack's mutants: its reference with the mistakes the DAT450 steps invite, and correct
variants, each broken one naming the tests that must fail; and which tests a defect of each part may fail (the
parts' declared dependencies, as in ASSIGNMENT.md's "Where one part relies on another")."""

from .mutants import Mutant

COUNT = "    return sum(param.numel() for param in model.parameters() if param.requires_grad)\n"
BODY = "    body = {id(param) for param in model.base_model.parameters()}\n"
FLAGS = "        param.requires_grad = id(param) not in body\n"
NAMES = "            if isinstance(module, nn.Linear) and name.rpartition(\".\")[2] in QUERY_AND_VALUE}\n"
PARENT = "        setattr(model.get_submodule(parent), child, layer)\n"
FREEZE = "        self.pretrained.requires_grad_(False)\n"
B_ZERO = "        nn.init.zeros_(self.B.weight)\n"
SCALING = "        self.scaling = alpha / rank\n"
FORWARD = "        return self.pretrained(x) + self.scaling * self.B(self.A(x))\n"
A_LAYER = "        self.A = nn.Linear(pretrained.in_features, rank, bias=False, **like)\n"
FINAL = "    tune_final_layers_only(model)\n"
WRAPPED = "    wrapped = {name: LinearLoRA(layer, rank, alpha) for name, layer in extract_qv_layers(model).items()}\n"
ACCURACY = "    return {\"accuracy\": float(np.mean(np.argmax(logits, axis=-1) == labels))}\n"
EPOCHS = "        output_dir=output_dir, learning_rate=learning_rate, num_train_epochs=epochs,\n"
STRATEGIES = "        eval_strategy=\"epoch\", save_strategy=\"no\", report_to=\"none\")\n"
DATA = "    return Trainer(model=model, args=arguments, train_dataset=train_dataset, eval_dataset=eval_dataset,\n"

BROKEN = [
    Mutant("count_everything", "counts every parameter, trainable or not",
           ((COUNT, "    return sum(param.numel() for param in model.parameters())\n"),),
           ("test_counts_the_trainable_elements",)),
    Mutant("count_tensors", "counts the trainable tensors, not their elements",
           ((COUNT, "    return sum(1 for param in model.parameters() if param.requires_grad)\n"),),
           ("test_counts_the_trainable_elements", "test_a_shared_parameter_counts_once", "test_the_handouts_figure")),
    Mutant("count_shared_twice", "counts by named_parameters(remove_duplicate=False): a shared weight twice",
           ((COUNT, "    return sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)"
                    " if p.requires_grad)\n"),),
           ("test_a_shared_parameter_counts_once",)),
    Mutant("classifier_only", "only the last layer, classifier, trains: DistilBERT's pre_classifier stays frozen",
           ((FLAGS, "        param.requires_grad = False\n    for param in model.classifier.parameters():\n"
                    "        param.requires_grad = True\n"),),
           ("test_trains_exactly_the_final_layers",)),
    Mutant("body_left_as_it_was", "the head made trainable, the body's flags left as they were",
           ((FLAGS, "        if id(param) not in body:\n            param.requires_grad = True\n"),),
           ("test_trains_exactly_the_final_layers",)),
    Mutant("keys_also_found", "extract_qv_layers takes the key layers too",
           ((NAMES, "            if isinstance(module, nn.Linear) and name.rpartition(\".\")[2] in"
                    " (*QUERY_AND_VALUE, \"k_lin\", \"key\")}\n"),),
           ("test_extract_finds_exactly_the_query_and_value_layers",)),
    Mutant("distilbert_names_only", "extract_qv_layers knows DistilBERT's q_lin and v_lin, not BERT's query and value",
           ((NAMES, NAMES.replace("in QUERY_AND_VALUE", "in (\"q_lin\", \"v_lin\")")),),
           ("test_extract_finds_exactly_the_query_and_value_layers",)),
    Mutant("replaced_on_the_model", "replace_layers sets the attribute on the model itself, whatever the name",
           ((PARENT, "        setattr(model, name, layer)\n"),),
           ("test_replace_puts_each_module_at_its_name", "test_replace_inside_a_sequential")),
    Mutant("pretrained_trainable", "LinearLoRA leaves the pretrained layer trainable",
           ((FREEZE, ""),), ("test_keeps_the_very_pretrained_layer_frozen_and_unchanged",)),
    Mutant("b_random", "B keeps its random initialisation: the model changes the moment it is wrapped",
           ((B_ZERO, ""),), ("test_A_and_B_have_the_layers_sizes_and_B_starts_at_zero",)),
    Mutant("scaling_alpha", "the update scaled by alpha, not alpha / rank",
           ((SCALING, "        self.scaling = alpha\n"),), ("test_forward_is_pretrained_plus_the_scaled_update",)),
    Mutant("update_detached", "the update computed from A(x).detach(): A never learns",
           ((FORWARD, "        return self.pretrained(x) + self.scaling * self.B(self.A(x).detach())\n"),),
           ("test_gradients_reach_A_and_B",)),
    Mutant("a_with_bias", "A has a bias",
           ((A_LAYER, "        self.A = nn.Linear(pretrained.in_features, rank, **like)\n"),),
           ("test_keeps_the_very_pretrained_layer_frozen_and_unchanged",)),
    Mutant("head_frozen_with_lora", "make_lora_model freezes everything but LoRA: the head cannot learn the labels",
           ((FINAL, "    for param in model.parameters():\n        param.requires_grad = False\n"),),
           ("test_trains_exactly_lora_and_the_final_layers", "test_the_handouts_figure")),
    Mutant("rank_and_alpha_swapped", "LinearLoRA(layer, alpha, rank)",
           ((WRAPPED, WRAPPED.replace("LinearLoRA(layer, rank, alpha)", "LinearLoRA(layer, alpha, rank)")),),
           ("test_gives_each_layer_the_rank_and_alpha",)),
    Mutant("accuracy_of_the_labels", "compute_metrics compares the logits themselves with the labels",
           ((ACCURACY, "    return {\"accuracy\": float(np.mean(logits[:, 1] == labels))}\n"),),
           ("test_evaluate_reports_the_accuracy",)),
    Mutant("one_epoch", "always one epoch",
           ((EPOCHS, EPOCHS.replace("num_train_epochs=epochs", "num_train_epochs=1")),),
           ("test_training_arguments", "test_training_everything_lowers_the_loss")),
    Mutant("checkpoints_saved", "the Trainer's default: a checkpoint saved every 500 steps",
           ((STRATEGIES, "        eval_strategy=\"epoch\", report_to=\"none\")\n"),), ("test_training_arguments",)),
    Mutant("evaluates_on_the_train_set", "evaluates on the training set",
           ((DATA, DATA.replace("eval_dataset=eval_dataset", "eval_dataset=train_dataset")),),
           ("test_holds_the_model_and_the_data",)),
    Mutant("final_layers_return_nothing", "tune_final_layers_only works in place and returns nothing",
           ((FLAGS + "    return model\n", FLAGS + "    return None\n"),), ("test_trains_exactly_the_final_layers",)),
    Mutant("lora_model_returns_nothing", "make_lora_model works in place and returns nothing",
           ((WRAPPED + "    replace_layers(model, wrapped)\n    return model\n",
             WRAPPED + "    replace_layers(model, wrapped)\n    return None\n"),),
           ("test_wraps_exactly_the_query_and_value_layers",)),
]

CORRECT = [
    Mutant("reference", "the reference itself, unchanged", ()),
    Mutant("counted_by_name", "counted over named_parameters()",
           ((COUNT, "    return sum(p.numel() for _, p in model.named_parameters() if p.requires_grad)\n"),)),
    Mutant("functional_forward", "the update with F.linear on the weights",
           ((FORWARD, "        update = nn.functional.linear(nn.functional.linear(x, self.A.weight), self.B.weight)\n"
                      "        return self.pretrained(x) + self.scaling * update\n"),)),
    Mutant("replaced_by_walking", "replace_layers walks the names with getattr",
           ((PARENT, "        holder = model\n        for part in filter(None, parent.split(\".\")):\n"
                     "            holder = getattr(holder, part)\n        setattr(holder, child, layer)\n"),)),
    Mutant("replace_returns_the_model", "replace_layers returns the model (not graded)",
           ((PARENT, PARENT + "    return model\n"),)),
]

PART_FILES = {  # a top-level name of the reference -> the test file of its part
    "count_trainable_parameters": "test_counting.py",
    "tune_final_layers_only": "test_final_layers.py",
    "extract_qv_layers": "test_replace.py",
    "replace_layers": "test_replace.py",
    "QUERY_AND_VALUE": "test_replace.py",
    "LinearLoRA": "test_linear_lora.py",
    "make_lora_model": "test_make_lora.py",
    "accuracy": "test_trainer.py",
    "make_trainer": "test_trainer.py",
}
DEPENDENCIES = {  # make_lora_model is built from the other parts (ASSIGNMENT.md)
    part: ("test_make_lora.py",) for part in ("test_final_layers.py", "test_replace.py", "test_linear_lora.py")
}

# The untouched template with every graded part doing nothing useful (mutants.do_nothing): it must score 0.
DO_NOTHING = {
    "count_trainable_parameters": "return 0", "tune_final_layers_only": "return model",
    "extract_qv_layers": "return {}", "replace_layers": "return None",
    "LinearLoRA.__init__": "super().__init__()\n        self.pretrained = pretrained",
    "LinearLoRA.forward": "return self.pretrained(x)", "make_lora_model": "return model",
    "accuracy": "return {}",
    "make_trainer": "return Trainer(model=model, args=TrainingArguments(output_dir=output_dir))",
}
