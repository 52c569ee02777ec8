"""lora-grader: grade the submissions of LoRA assignments (each one a pack: ``grader/assignments/``) in contained
processes, and build what students and platforms receive (the template, the release bundle, Gradescope's
autograder)."""
