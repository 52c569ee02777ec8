"""What a suite's ``conftest.py`` does before anything else: never download, and import what its tests import with
the cyclic garbage collector paused, the objects those imports made then frozen out of its sight.

Importing torch and transformers' models creates some 350,000 objects, and Python's cyclic collector walks all of
them again at each full collection, during the imports, during the tests and at exit: 2.5 s of a 6.8 s run of the
BERT suite, once. None of them is garbage, so the collector is paused for the imports and what they made is
frozen (the pattern the `gc.freeze` documentation gives for long-lived objects). This module imports nothing
heavy itself, so that it can run first.
"""

import gc
import importlib
import os


def import_frozen(*modules: str) -> None:
    """Import pytest, torch, transformers and ``modules`` (offline), then freeze what they made."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported
    gc.disable()
    try:
        for name in ("pytest", "torch", "transformers", *modules):
            importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()
