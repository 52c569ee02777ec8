"""The process-wide torch settings the tests need, set around every test whatever the submission chose.

A correct solution may set torch's global options when it is imported, as training
scripts do: ``torch.set_default_dtype(torch.float64)``, ``set_num_threads``,
deterministic algorithms, TF32 matrix products. None of that breaks the contract, so
none of it may change a verdict: each test runs under the settings below, and the
submission's own are put back afterwards. (Seeds are set per test by ``_seeded``;
warnings filters and logging levels only change what is printed, and pytest already
scopes warnings filters to each test.)
"""

import contextlib
from dataclasses import dataclass

import torch

# torch 2.9 moved float32 matrix-product precision (TF32 on a GPU, bfloat16 in oneDNN on
# a CPU) to per-backend ``fp32_precision`` knobs, and raises when the old getter is read
# after the new knobs were set: use the knobs where this torch has them.
if hasattr(torch.backends, "fp32_precision"):
    KNOBS = (torch.backends, torch.backends.cuda.matmul, torch.backends.mkldnn.matmul)
    FULL_PRECISION = ("none",) * len(KNOBS)  # "none" everywhere: torch's default, full float32

    def matmul_precision() -> tuple:
        return tuple(knob.fp32_precision for knob in KNOBS)

    def set_matmul_precision(values: tuple) -> None:
        for knob, value in zip(KNOBS, values, strict=True):
            knob.fp32_precision = value
else:
    FULL_PRECISION = ("highest", False)

    def matmul_precision() -> tuple:
        return torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32

    def set_matmul_precision(values: tuple) -> None:
        torch.set_float32_matmul_precision(values[0])
        torch.backends.cuda.matmul.allow_tf32 = values[1]


@dataclass(frozen=True)
class Settings:
    default_dtype: torch.dtype
    default_device: torch.device
    grad_enabled: bool
    deterministic: bool
    deterministic_warn_only: bool
    num_threads: int
    matmul_precision: tuple


# Float32 on the CPU with full-precision matrix products: the tolerances of the tests
# (1e-5) assume it. One thread: see pytest_configure in conftest.py.
SUITE = Settings(
    default_dtype=torch.float32,
    default_device=torch.device("cpu"),
    grad_enabled=True,
    deterministic=False,
    deterministic_warn_only=False,
    num_threads=1,
    matmul_precision=FULL_PRECISION,
)


def current() -> Settings:
    return Settings(
        default_dtype=torch.get_default_dtype(),
        default_device=torch.get_default_device(),
        grad_enabled=torch.is_grad_enabled(),
        deterministic=torch.are_deterministic_algorithms_enabled(),
        deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        num_threads=torch.get_num_threads(),
        matmul_precision=matmul_precision(),
    )


def apply(settings: Settings, now: Settings | None = None) -> None:
    """Make ``settings`` torch's; only what differs is set (``set_num_threads`` is not free). ``now``: the settings
    in force, where the caller has just read them (``current``, twice per request, was 6% of a subject's time)."""
    if settings == (now or current()):
        return
    torch.set_default_dtype(settings.default_dtype)
    # A default device is a mode that every torch call goes through: none at all for the CPU.
    torch.set_default_device(None if settings.default_device.type == "cpu" else settings.default_device)
    torch.set_grad_enabled(settings.grad_enabled)
    torch.use_deterministic_algorithms(settings.deterministic, warn_only=settings.deterministic_warn_only)
    if torch.get_num_threads() != settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    if matmul_precision() != settings.matmul_precision:
        set_matmul_precision(settings.matmul_precision)


@contextlib.contextmanager
def suite_settings():
    """Run the body under ``SUITE`` and restore what was there before."""
    before = current()
    apply(SUITE, before)
    try:
        yield
    finally:
        apply(before)


def manual_seed(seed: int) -> None:
    """``torch.manual_seed`` for the devices the suite runs on: the CPU, and CUDA where there is one.

    ``torch.manual_seed`` also queues the seed for each accelerator not started yet (CUDA,
    XPU, MTIA), and each queued call records the Python stack (``traceback.format_stack``).
    Under pytest's deep stacks that took a sixth of a run's time in the judge whose tests
    fail fast (py-spy), once per test. The CPU generator gets exactly the state
    ``torch.manual_seed`` gives it.
    """
    torch.random.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
