"""``python -m grader``: the command line of ``cli.py``."""

import sys

from grader.cli import main

sys.exit(main())
