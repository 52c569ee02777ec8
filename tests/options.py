"""Options and markers of the assignment suite, as a pytest plugin.

In this repository ``tests/conftest.py`` takes them from here. In the student bundle
``pytest.ini`` loads this module with ``-p tests.options`` instead, before pytest looks
at the command line, so that every form works wherever the submission is:
``pytest --submission lora_bert.ipynb`` (pytest would otherwise read the path as the
tests to run and never load ``tests/conftest.py``) and ``pytest --submission
/elsewhere/lora_bert.py`` alike.
"""


def pytest_addoption(parser):
    group = parser.getgroup("lora_bert assignment")
    group.addoption(
        "--submission",
        default=None,
        metavar="PATH",
        help="the module to judge (lora_bert.py for lora-bert): a .py file, a folder holding it, or a notebook "
        "(default: the pack's reference in the repository, else the module or notebook in the rootdir)",
    )
    group.addoption(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where the tests put models and tensors; 'auto' picks CUDA when present (default: cpu)",
    )
    group.addoption(
        "--seed",
        type=int,
        default=0,
        help="seeds the inputs every test draws (default: 0); the grader draws one per run",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "hidden: run when grading, left out of the tests that students receive")
    config.addinivalue_line(
        "markers", "cuda: needs a CUDA device; skipped without one, and not graded on the CPU")
    config.addinivalue_line(
        "markers", "convention(dropout=..., targets=...): judges one pack's answer; left out of the others' runs")
    config.addinivalue_line(
        "markers", "peft: uses peft as an oracle; skipped, and not graded, where peft is not installed")
