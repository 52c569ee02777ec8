"""lora-grader: the student template, the release bundle and (later) grading for the LoRA/BERT assignment."""
