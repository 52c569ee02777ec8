"""What crosses the pipe between the grader and a warm worker (``worker_client.py`` and ``warm_worker.py``): one
JSON object per line, each message one of these types. The worker hands the request on to the judge and the zygote
it forks. A brood of workers is told what to fork in a list of ``Hatchling``.
"""

from typing import TypedDict


class SubjectPlace(TypedDict):
    """Where a subject lives: its home (read and written) and what else it may read; nothing of the judge's."""

    home: str
    models: str  # the subjects' own copy of the tiny models
    submission: str  # the module, or a path that does not exist when there is none
    readable: list[str]


class DiskCap(TypedDict):
    megabytes: int
    files: int


class JudgeSecrets(TypedDict):
    """What the judge alone may know of its run, in a file of the grader's private folder (``RunRequest.secrets``).

    Not in the request: the worker forks the judge, and the judge the zygote that forks every subject, so all the
    worker and the zygote ever held is in each subject's memory. The judge reads this file only once the zygote is
    forked (``warm_worker.run_child``), and removes it; a subject's Landlock keeps it from opening the file.
    """

    args: list[str]  # of pytest.main: the suite, and the run's --seed, which the submission must not know
    report: str  # the FIFO the judge reports each test on
    token: str  # what the judge's reports carry, so that the listener knows them from forgeries


class RunRequest(TypedDict):
    """One submission's run, from the grader to the worker: nothing a subject may not know (see ``JudgeSecrets``)."""

    cwd: str  # the workspace: the judge's copies of the tests, models and data
    secrets: str  # the path of the run's JudgeSecrets, as JSON
    env: dict[str, str]  # on top of the worker's
    output: str  # the file the judge's and subjects' output goes to
    rlimits: dict[str, tuple[int, int]]
    device: str
    disabled: list[str]  # containment layers switched off (tests only)
    cgroups: list[str]  # cgroup.procs files the subjects join
    subject: SubjectPlace
    disk: DiskCap
    hide: str  # the checkout (with the reference): never on a contained process's path nor readable


BROOD_VARIABLE = "LORA_GRADER_BROOD"  # the environment variable that holds a brood's list of Hatchling, as JSON


class Hatchling(TypedDict):
    """One worker a brood forks (``warm_worker.brood``): given in the brood's environment, as a JSON list."""

    commands: int  # the descriptor of the pipe the grader writes RunRequests to: the worker's standard input
    answers: int  # the descriptor of the pipe the worker answers on: its standard output
    home: str
    env: dict[str, str]  # the worker's whole environment (``worker_client.worker_environment``)


class Ready(TypedDict):
    ready: bool


class Started(TypedDict):
    started: int  # the judge's pid


class Exited(TypedDict):
    exited: int  # the judge's exit status
    leftovers: int  # processes the worker killed after it


class Gone(TypedDict):
    """Not from the worker: what ``Worker.receive`` says when the worker died or broke the protocol."""

    gone: bool


Answer = Ready | Started | Exited | Gone
