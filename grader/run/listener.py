"""The grader's reader of a test process's report pipe (written by ``child_plugin.py``).

It keeps only lines that carry the run's token, and of the events that describe the
run itself (which layers contained it, what was collected) only the first: whatever the
submission writes to the pipe later cannot rewrite them.
"""

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict


@dataclass
class TestReport:
    """One test's outcome as the test process reported it."""

    __test__ = False  # a record, not a pytest test class

    outcome: str  # passed, failed or skipped
    message: str = ""
    duration: float = 0.0
    subject_lost: bool = False  # the submission's process died, hung or broke the protocol during the test


class CollectedTest(TypedDict):
    """A test the judge collected (``child_plugin.py``'s ``collected`` event), as the grader keeps it."""

    id: str  # pytest's node id: tests/assignment/test_merge.py::test_x[bert-tiny]
    hidden: bool
    cuda: bool  # graded only on a GPU
    peft: bool  # needs peft installed


@dataclass
class Loaded:
    """What importing the submission gave, as the judge heard it from its first subject."""

    import_error: str = ""
    cell_errors: list[str] = field(default_factory=list)  # a notebook's cells that raised
    printed_on_import: int = 0  # characters
    subjects: int = 0  # started during the run


class ReportListener:
    """Reads the child's report FIFO on a thread of its own, into ``run``."""

    def __init__(self, run, fifo: Path, token: str):
        self.run, self.fifo, self.token = run, fifo, token
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.fifo, encoding="utf-8", errors="replace") as pipe:  # blocks until the child opens it
            for line in pipe:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and event.get("token") == self.token:
                    with self.lock:
                        self._apply(event)

    def _apply(self, event: dict) -> None:
        run, kind = self.run, event.get("event")
        if kind == "contained" and run.containment is None:
            run.containment = {str(k): str(v) for k, v in dict(event.get("layers", {})).items()}
        elif kind == "collected" and not run.collected:
            run.collected = [CollectedTest(id=str(test["id"]), hidden=bool(test.get("hidden")),
                                           cuda=bool(test.get("cuda")), peft=bool(test.get("peft")))
                             for test in event.get("tests") or [] if isinstance(test, dict) and "id" in test]
        elif kind == "start":
            run.started.append(event["test"])
        elif kind == "result":
            previous = run.reports.get(event["test"])
            if previous is None or previous.outcome == "passed":  # a failing teardown overrides a pass
                run.reports[event["test"]] = TestReport(event["outcome"], event.get("message", ""),
                                                        float(event.get("duration", 0.0)),
                                                        bool(event.get("subject_lost", False)))
        elif kind == "submission":
            run.loaded = Loaded(str(event.get("import_error") or ""), [str(c) for c in event.get("cell_errors") or []],
                                int(event.get("printed_on_import") or 0), int(event.get("subjects") or 0))

    def finish(self) -> None:
        """Once the child is gone: unblock a reader still waiting for a writer, then wait briefly."""
        with contextlib.suppress(OSError):
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        self.thread.join(timeout=2)
