"""The peft-bert pack's mutants: its reference with the mistakes the HW5 section-2 cells invite, and correct
variants, each broken one naming the tests that must fail. Each part is judged with the suite's own model, batches,
optimiser and LoraConfig, so no part's defect may fail another part's tests (no declared dependency)."""

from .mutants import Mutant

ENCODE = ("        encoded = self.tokenizer(self.texts[idx], padding=\"max_length\", truncation=True, "
          "max_length=self.max_len,\n")
ITEM = ("        return {\"input_ids\": encoded[\"input_ids\"][0], "
        "\"attention_mask\": encoded[\"attention_mask\"][0],\n"
        "                \"labels\": torch.tensor(int(self.labels[idx]), dtype=torch.long)}\n")
CONFIG = ("    config = BertConfig(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, "
          "num_attention_heads=2,\n                        intermediate_size=512, num_labels=num_labels)\n")
LORA = ("    return LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha, lora_dropout=dropout,\n"
        "                      target_modules=[\"query\", \"value\"])\n")
TRAIN_MODE = "    model.train()\n    losses = []\n"
ZERO = "        optimizer.zero_grad()\n"
MEAN = "    return sum(losses) / len(losses)\n    # END SOLUTION\n\n\ndef evaluate("
EVAL_MODE = "    model.eval()\n    losses, correct, seen = [], 0, 0\n"
ACCURACY = "    return {\"loss\": sum(losses) / len(losses), \"accuracy\": correct / seen}\n"

BROKEN = [
    Mutant("dataset_not_padded", "each text padded to its own length, not to max_len",
           ((ENCODE, ENCODE.replace("padding=\"max_length\"", "padding=True")),),
           ("test_each_example_is_the_encoding_and_the_label", "test_a_dataloader_stacks_its_examples")),
    Mutant("dataset_not_cut", "long texts kept whole, past max_len",
           ((ENCODE, ENCODE.replace("truncation=True", "truncation=False")),),
           ("test_each_example_is_the_encoding_and_the_label",)),
    Mutant("dataset_keeps_the_batch_dimension", "each example's tensors of shape (1, max_len)",
           ((ITEM, ITEM.replace("[\"input_ids\"][0]", "[\"input_ids\"]").replace("[\"attention_mask\"][0]",
                                                                              "[\"attention_mask\"]")),),
           ("test_each_example_is_the_encoding_and_the_label", "test_a_dataloader_stacks_its_examples")),
    Mutant("label_as_float", "the label a float tensor: cross-entropy wants class indices",
           ((ITEM, ITEM.replace("torch.tensor(int(self.labels[idx]), dtype=torch.long)",
                                "torch.tensor(float(self.labels[idx]))")),),
           ("test_each_example_is_the_encoding_and_the_label",)),
    Mutant("max_len_default_128", "max_len defaults to 128",
           (("    def __init__(self, texts, labels, tokenizer, max_len: int = 512):\n",
             "    def __init__(self, texts, labels, tokenizer, max_len: int = 128):\n"),),
           ("test_each_example_is_the_encoding_and_the_label",)),
    Mutant("hidden_size_256", "a hidden size of 256",
           ((CONFIG, CONFIG.replace("hidden_size=128", "hidden_size=256")),),
           ("test_the_configuration", "test_the_handouts_figure")),
    Mutant("labels_forgotten", "the configuration's default of two labels",
           ((CONFIG, CONFIG.replace(", num_labels=num_labels", "")),), ("test_the_configuration",)),
    Mutant("no_task_type", "a LoraConfig without task_type: the new classifier would stay frozen",
           ((LORA, LORA.replace("task_type=TaskType.SEQ_CLS, ", "")),), ("test_the_fields",)),
    Mutant("rank_and_alpha_swapped", "r=alpha, lora_alpha=rank",
           ((LORA, LORA.replace("r=rank, lora_alpha=alpha", "r=alpha, lora_alpha=rank")),), ("test_the_fields",)),
    Mutant("every_linear_targeted", "LoRA on every linear layer",
           ((LORA, LORA.replace("target_modules=[\"query\", \"value\"]", "target_modules=\"all-linear\"")),),
           ("test_the_fields",)),
    Mutant("everything_trainable_after_peft", "every parameter made trainable after get_peft_model",
           (("    return get_peft_model(model, config)\n",
             "    wrapped = get_peft_model(model, config)\n    for param in wrapped.parameters():\n"
             "        param.requires_grad = True\n    return wrapped\n"),),
           ("test_trains_what_peft_trains", "test_the_handouts_figure")),
    Mutant("base_model_returned", "get_peft_model called, the base model returned",
           (("    return get_peft_model(model, config)\n", "    get_peft_model(model, config)\n    return model\n"),),
           ("test_trains_what_peft_trains", "test_logits_unchanged_right_after")),
    Mutant("gradients_accumulate", "the gradients never zeroed",
           ((ZERO, ""),), ("test_train_epoch_is_one_pass_of_the_loop",)),
    Mutant("left_in_eval_mode", "train_epoch never calls model.train()",
           ((TRAIN_MODE, "    losses = []\n"),), ("test_train_epoch_trains_in_training_mode",)),
    Mutant("last_loss_returned", "train_epoch returns the last batch's loss",
           ((MEAN, MEAN.replace("sum(losses) / len(losses)", "losses[-1]")),),
           ("test_train_epoch_is_one_pass_of_the_loop",)),
    Mutant("evaluated_with_dropout", "evaluate never calls model.eval(): dropout on",
           ((EVAL_MODE, "    losses, correct, seen = [], 0, 0\n"),),
           ("test_evaluate_reports_the_loss_and_the_accuracy",)),
    Mutant("accuracy_per_batch", "the mean of the batches' accuracies, wrong for a short last batch",
           (("            correct += int((outputs.logits.argmax(dim=-1) == batch[\"labels\"]).sum())\n",
             "            correct += float((outputs.logits.argmax(dim=-1) == batch[\"labels\"]).float().mean())\n"),
            ("            seen += len(batch[\"labels\"])\n", "            seen += 1\n")),
           ("test_evaluate_reports_the_loss_and_the_accuracy",)),
    Mutant("length_off_by_one", "len() one short: the last complaint is never seen",
           (("        return len(self.texts)\n", "        return len(self.texts) - 1\n"),),
           ("test_each_example_is_the_encoding_and_the_label",)),
    Mutant("back_to_training_mode", "evaluate puts the model back in training mode before it returns",
           ((ACCURACY, "    model.train()\n" + ACCURACY),), ("test_evaluate_reports_the_loss_and_the_accuracy",)),
]

CORRECT = [
    Mutant("reference", "the reference itself, unchanged", ()),
    Mutant("accuracy_from_probabilities", "the accuracy from the softmax's argmax",
           (("            correct += int((outputs.logits.argmax(dim=-1) == batch[\"labels\"]).sum())\n",
             "            predicted = torch.softmax(outputs.logits, dim=-1).argmax(dim=-1)\n"
             "            correct += int((predicted == batch[\"labels\"]).sum())\n"),)),
    Mutant("zero_grad_set_to_none", "the model's own zero_grad",
           ((ZERO, "        model.zero_grad(set_to_none=True)\n"),)),
]

PART_FILES = {  # a top-level name of the reference -> the test file of its part
    "ComplaintDataset": "test_dataset.py",
    "build_small_bert": "test_small_bert.py",
    "make_lora_config": "test_lora_config.py",
    "apply_lora": "test_apply_lora.py",
    "train_epoch": "test_training.py",
    "evaluate": "test_training.py",
}
DEPENDENCIES: dict[str, tuple[str, ...]] = {}  # every part is judged with the suite's own other parts

# The untouched template with every graded part doing nothing useful (mutants.do_nothing): it must score 0.
DO_NOTHING = {
    "ComplaintDataset.__init__": "self.texts = texts", "ComplaintDataset.__len__": "return 0",
    "ComplaintDataset.__getitem__": "return {}", "build_small_bert": "return None",
    "make_lora_config": "return None", "apply_lora": "return model", "train_epoch": "return 0.0",
    "evaluate": "return {}",
}
