"""lora-grader: grade the LoRA/BERT assignment's submissions in contained processes, and build what
students and platforms receive (the template, the release bundle, Gradescope's autograder)."""
