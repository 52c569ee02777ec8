"""Where a score is computed: finding submissions, batches, scoring, the rubric, the result model and what it writes
for people.
"""
