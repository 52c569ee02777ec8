"""The suite's options and markers (``tests/options.py``), for runs from this repository.

They are registered here, one level above ``tests/assignment``, because pytest only
reads ``pytest_addoption`` from the conftest files it loads first: this one is loaded
both by ``pytest`` (which starts from ``tests/``) and by ``pytest tests/assignment``.
"""

from .options import pytest_addoption, pytest_configure  # noqa: F401
