"""Where a submission is run: the grader's workers, the judge's run and the zygote that starts its subjects, the
messages between them.
"""
