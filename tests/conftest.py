"""Options and markers of the assignment suite.

They are registered here, one level above ``tests/assignment``, because pytest only
reads ``pytest_addoption`` from the conftest files it loads first: this one is loaded
both by ``pytest`` (which starts from ``tests/``) and by ``pytest tests/assignment``.
"""


def pytest_addoption(parser):
    group = parser.getgroup("lora_bert assignment")
    group.addoption(
        "--submission",
        default=None,
        metavar="PATH",
        help="the lora_bert.py to judge: a .py file, a folder holding lora_bert.py, or a "
        "lora_bert.ipynb (default: reference/lora_bert.py, else the lora_bert.py or .ipynb in the rootdir)",
    )
    group.addoption(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where the tests put models and tensors; 'auto' picks CUDA when present (default: cpu)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "hidden: run when grading, left out of the tests that students receive")
    config.addinivalue_line(
        "markers", "cuda: needs a CUDA device; skipped without one, and not graded on the CPU")
    config.addinivalue_line(
        "markers", "peft: uses peft as an oracle; skipped, and not graded, where peft is not installed")
