"""For instructors: the student template and notebook from the reference, the student bundle."""
