"""After grading: the class report, its figures and pages, similarity between submissions."""
