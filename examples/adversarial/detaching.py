"""Leaves two processes behind at import: one keeps its environment, one wipes it and starts a new session."""
import os
import sys

SLEEPER = "import time; time.sleep(600)  # lora-grader-escapee"


def detach(environment):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execve(sys.executable, [sys.executable, "-c", SLEEPER], environment)
        os._exit(0)


detach(dict(os.environ))
detach({})
