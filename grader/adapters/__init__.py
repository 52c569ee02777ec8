"""Students' fine-tuned LoRA adapters, read as data and scored on held-out data (issue 38's first part)."""
