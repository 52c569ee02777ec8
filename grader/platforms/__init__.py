"""Where a platform's file is written: Gradescope, GitHub Classroom, PrairieLearn, Canvas."""
