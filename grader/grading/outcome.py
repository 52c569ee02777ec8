"""How a submission's run went, and why the grader stopped one: the values modules decide on.

Each is a ``StrEnum`` whose value is what ``results.json`` stores, so the file stays what it
was and a writer compares members, never the summary's display words.
"""

from enum import StrEnum


class Stop(StrEnum):
    """The limit the grader stopped a run for (``Run.stopped``)."""

    TIMED_OUT = "timed out"
    CPU_TIME = "CPU time"
    OUT_OF_MEMORY = "out of memory"
    DISK_FULL = "disk full"


class Outcome(StrEnum):
    """How a submission's run went as a whole (``extra_data.outcome``)."""

    GRADED = "graded"  # every test ran and reported, whatever it found
    NO_MODULE = "no module"  # nothing to run: neither the assignment's module nor its notebook
    IMPORT_FAILED = "import failed"
    STOPPED = "stopped"  # by a limit: ``extra_data.stopped`` says which
    WORKER_LOST = "worker lost"  # the grader's worker died or stopped answering: not a verdict on the student
    ENDED_EARLY = "ended early"  # the test process ended before every test reported
    CELLS_RAISED = "cells raised"  # notebook cells raised; what the others define was graded

    @property
    def gradable(self) -> bool:
        """Whether the tests judged the submission's code (PrairieLearn spends no attempt on the others)."""
        return self not in (Outcome.NO_MODULE, Outcome.IMPORT_FAILED, Outcome.WORKER_LOST)

    @classmethod
    def of(cls, extra: dict) -> "Outcome":
        """A results.json's outcome; for one written before outcomes were recorded, read from its note."""
        if "outcome" in extra:
            return cls(extra["outcome"])
        note = extra.get("note", "")
        for outcome, start in ((cls.NO_MODULE, "no module"), (cls.IMPORT_FAILED, "import failed"),
                               (cls.WORKER_LOST, "worker lost"), (cls.ENDED_EARLY, "process ended early")):
            if note.startswith(start):
                return outcome
        if note in set(Stop):
            return cls.STOPPED
        return cls.CELLS_RAISED if "cell(s) raised" in note else cls.GRADED
