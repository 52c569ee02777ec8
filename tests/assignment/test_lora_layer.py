"""LoRALayer: shapes, initialisation, scaling, the forward formula, dropout, bad arguments."""

import itertools

import pytest
import torch

from ..judging.checks import close, describe, expect, max_difference, shape, tensor
from ..judging.protocol import Placed
from .assets import CONVENTIONS


def set_weights(layer, A, B):
    layer.assign("A", A)
    layer.assign("B", B)


DROPOUT = pytest.mark.convention(dropout=True)  # for the packs whose LoRALayer takes a dropout

# A factor of 1.5, as each convention gets it (alpha 6 at rank 4, or alpha 1.5)
RANK, ALPHA = 4, CONVENTIONS.alpha_for(1.5, 4)


@pytest.mark.parametrize("alpha, rank", [(16, 3), (8, 16), (1.5, 2), (32, 8)])
def test_scaling_follows_the_convention(lora, alpha, rank):
    layer = lora.LoRALayer(10, 6, rank=rank, alpha=alpha)
    name, expected = CONVENTIONS.scaling_attribute, CONVENTIONS.factor(alpha, rank)
    scaling = layer.get(name, f"no attribute `{name}`")
    division = " as a float division" if "/" in CONVENTIONS.scaling else ""
    expect(isinstance(scaling, int | float) and scaling == pytest.approx(expected),
           f"LoRALayer: {name} is {CONVENTIONS.scaling}{division} (alpha={alpha}, rank={rank})", expected, scaling)


def test_stores_its_arguments(lora):
    layer = lora.LoRALayer(10, 6, rank=3, alpha=7.5)
    found = {name: layer.get(name, "missing") for name in ("in_dim", "out_dim", "rank", "alpha")}
    expect(found == {"in_dim": 10, "out_dim": 6, "rank": 3, "alpha": 7.5},
           "LoRALayer: in_dim, out_dim, rank and alpha are stored as given",
           {"in_dim": 10, "out_dim": 6, "rank": 3, "alpha": 7.5}, found)


def test_shapes_of_A_and_B(lora):
    layer = lora.LoRALayer(10, 6, rank=3, alpha=8)
    registered = {p["name"]: p for p in layer.parameters()}
    for name, expected in (("A", (10, 3)), ("B", (3, 6))):
        found = layer.get(name, None)
        expect(name in registered and registered[name]["is_parameter"],
               f"LoRALayer: {name} is an nn.Parameter, so that the optimiser trains it",
               "nn.Parameter", describe(found) if found is not None else "no attribute")
        expect(isinstance(found, torch.Tensor) and tuple(found.shape) == expected,
               f"LoRALayer(in_dim=10, out_dim=6, rank=3): {name} has shape {expected} "
               f"({'in_dim, rank' if name == 'A' else 'rank, out_dim'})", expected, shape(found))


def test_holds_only_A_and_B(lora):
    layer = lora.LoRALayer(10, 6, rank=3, alpha=8)
    found = sorted(p["name"] for p in layer.parameters())
    expect(found == ["A", "B"], "LoRALayer computes only the low-rank update: its parameters are A and B, nothing "
           "else (no bias of its own)", "A, B", ", ".join(found) or "none")


def test_B_starts_at_zero(lora):
    rule = "LoRALayer: B starts as all zeros, so that the wrapped model starts exactly as the pretrained one"
    B = tensor(lora.LoRALayer(10, 6, rank=3, alpha=8).get("B"), rule)
    expect(torch.count_nonzero(B) == 0, rule, "B == 0", f"{torch.count_nonzero(B).item()} non-zero entries")


def test_A_starts_random_and_full_rank(lora):
    rule = "LoRALayer: A starts random and non-degenerate (e.g. nn.init.kaiming_uniform_(A, a=math.sqrt(5)))"
    first = tensor(lora.LoRALayer(10, 6, rank=3, alpha=8).get("A"), rule)
    second = tensor(lora.LoRALayer(10, 6, rank=3, alpha=8).get("A"), rule)
    A = first.double()
    rank, finite = torch.linalg.matrix_rank(A).item(), torch.isfinite(A).all().item()
    expect(A.shape == (10, 3) and finite and rank == 3, rule, "finite values, rank 3",
           f"shape {tuple(A.shape)}, rank {rank}, finite: {finite}")
    expect(not torch.equal(first, second), rule,
           "two new layers get different A", "the same A twice: a fixed pattern, not random")


@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 5)], ids=["1-D", "2-D", "3-D"])
def test_forward_formula(lora, device, batch_shape):
    layer = lora.LoRALayer(10, 6, rank=RANK, alpha=ALPHA).call("to", device.type)
    A, B = torch.randn(10, 4), torch.randn(4, 6)
    x = torch.randn(*batch_shape, 10)
    set_weights(layer, A, B)
    expected = 1.5 * x @ A @ B
    found = layer(Placed(x, device.type))
    expect(close(found, expected),
           f"LoRALayer.forward: x of shape {tuple(x.shape)} gives scaling * x @ A @ B, "
           f"shape {tuple(expected.shape)} (with A, B set by hand, alpha={ALPHA:g}, rank={RANK})",
           f"values within 1e-5, shape {tuple(expected.shape)}", max_difference(found, expected))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_forward_reads_A_and_B_at_every_call(lora, mode):
    """A forward that keeps ``A @ B`` from an earlier call (a cache for inference, say) goes stale once training
    or a merge test changes B."""
    layer = lora.LoRALayer(10, 6, rank=RANK, alpha=ALPHA).call(mode)  # no dropout
    x = torch.randn(5, 10)
    for step in ("first", "second"):
        A, B = torch.randn(10, 4), torch.randn(4, 6)
        set_weights(layer, A, B)
        expected = 1.5 * x @ A @ B
        found = layer(x)
        expect(close(found, expected), f"LoRALayer.forward in {mode} mode computes with the A and B the layer holds "
               "at that call (no product A @ B kept from an earlier call)",
               f"scaling * x @ A @ B with the {step} A and B set", max_difference(found, expected))


def test_forward_keeps_float64_precision(lora):
    layer = lora.LoRALayer(10, 6, rank=RANK, alpha=ALPHA).call("to", torch.float64)
    A, B = torch.randn(10, 4, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    set_weights(layer, A, B)
    x = torch.randn(5, 10, dtype=torch.float64)
    expected = 1.5 * x @ A @ B
    found = layer(x)
    expect(close(found, expected, atol=1e-12, rtol=1e-12),
           "LoRALayer: the low-rank path computes in the dtype of its input and parameters: a float64 layer keeps "
           "float64's precision (no .float() on the way)", "float64 values within 1e-12",
           max_difference(found, expected))


def test_gradients_reach_A_B_and_the_input(lora):
    layer = lora.LoRALayer(10, 6, rank=4, alpha=8)
    set_weights(layer, torch.randn(10, 4), torch.randn(4, 6))
    x = lora.builtin("keep", Placed(torch.randn(3, 10), requires_grad=True), keep=True)
    layer.call("__call__", x, keep=True).call("square", keep=True).call("sum", keep=True).backward()
    for name, grad in (("A", layer.get("A.grad", None)), ("B", layer.get("B.grad", None)),
                       ("the input x", x.get("grad", None))):
        expect(isinstance(grad, torch.Tensor) and torch.count_nonzero(grad) > 0,
               f"LoRALayer.forward: the output depends on {name}, so a gradient reaches it "
               "(no .detach(), .data or torch.no_grad() in forward)",
               f"a non-zero gradient for {name}", "no gradient" if grad is None else "an all-zero gradient")


@DROPOUT
def test_dropout_is_off_in_eval_mode(lora):
    layer = lora.LoRALayer(10, 6, rank=4, alpha=8, dropout=0.5).call("eval")
    A, B, x = torch.randn(10, 4), torch.randn(4, 6), torch.randn(5, 10)
    set_weights(layer, A, B)
    expected = CONVENTIONS.factor(8, 4) * x @ A @ B
    found = layer(x)
    expect(close(found, expected), "LoRALayer: dropout acts only in training mode; in eval mode "
           "forward is exactly scaling * x @ A @ B", "no dropout in eval mode", max_difference(found, expected))


@DROPOUT
def test_dropout_acts_on_the_input_in_training_mode(lora):
    """Every output row must be ``scaling * (m * x / (1 - p)) @ A @ B`` for some keep-mask ``m`` of the input.

    The check looks at what comes out, not at how it was drawn: ``nn.Dropout``,
    ``F.dropout`` or a mask of the solution's own all give such rows. Dropout anywhere
    else on the path (on ``x @ A``, on ``A`` or ``B``, on the output) gives rows that no
    mask of the input explains; over these 128 rows, the chance that it goes unseen is
    below 1e-15 for each of those placements.
    """
    p, in_dim = 0.25, 6
    layer = lora.LoRALayer(in_dim, 5, rank=3, alpha=CONVENTIONS.alpha_for(1, 3), dropout=p).call("train")
    A, B, x = torch.randn(in_dim, 3), torch.randn(3, 5), torch.randn(16, in_dim)
    set_weights(layer, A, B)
    masks = torch.tensor(list(itertools.product((0.0, 1.0), repeat=in_dim)), dtype=torch.float64)
    candidates = (masks[:, None, :] * x.double() / (1 - p)) @ A.double() @ B.double()  # (mask, row, out)
    rule = (f"LoRALayer(dropout={p}) in training mode computes scaling * dropout(x) @ A @ B: each input element "
            f"zeroed with probability {p}, the others scaled by 1 / (1 - {p}), as nn.Dropout does")
    dropped = []
    for _ in range(8):  # separate calls, so that a mask drawn once per call (on A, say) shows as well
        found = tensor(layer(x), rule)
        expect(found.shape == (16, 5), rule, "an output of shape (16, 5)", shape(found))
        found = found.double()
        distance = (candidates - found).abs().amax(dim=-1)  # (mask, row)
        best = distance.argmin(dim=0)
        unexplained = [row for row in range(len(x)) if distance[best[row], row] > 1e-4 * (1 + found[row].abs().max())]
        expect(not unexplained, rule, "every output row explained by some input elements dropped",
               f"{len(unexplained)} of {len(x)} rows that no dropout of the input gives: was dropout applied "
               "after A, to A or B, or to the output, or without the 1 / (1 - p) scaling?")
        dropped.append(1 - masks[best].mean().item())
    share = sum(dropped) / len(dropped)
    expect(0.1 < share < 0.4, rule, f"about {p:.0%} of the input elements dropped",
           f"{share:.0%} dropped over {8 * x.numel()} elements")


@DROPOUT
def test_dropout_draws_each_element_at_every_call(lora):
    """With A and B the identity the output is ``dropout(x)`` itself, so its zeros are the mask.

    Over 8 calls of 64 rows of 64 elements, neighbouring elements, rows and calls agree as often as independent
    draws at the rate found do (``q**2 + (1 - q)**2``, within 0.05: over 10 standard deviations), and the share
    dropped ``q`` sits within 0.02 of ``p`` (8 standard deviations). A mask shared by the rows of a batch, drawn
    once and reused, or one per row instead of per element, agrees everywhere along its axis.
    """
    p, n, rows, calls = 0.25, 64, 64, 8
    layer = lora.LoRALayer(n, n, rank=n, alpha=CONVENTIONS.alpha_for(1, n), dropout=p).call("train")
    set_weights(layer, torch.eye(n), torch.eye(n))
    x = 1 + torch.rand(rows, n)  # no zero of its own
    rule = (f"LoRALayer(dropout={p}) in training mode drops as nn.Dropout does: each element of x zeroed with "
            f"probability {p}, independently of the others and at every call")
    kept = []
    for _ in range(calls):
        found = tensor(layer(x), rule)
        expect(found.shape == x.shape, rule, f"an output of shape {tuple(x.shape)}", shape(found))
        kept.append(found != 0)
    kept = torch.stack(kept)  # (call, row, element)
    dropped = 1 - kept.double().mean().item()
    independent = dropped ** 2 + (1 - dropped) ** 2  # how often two independent draws at that rate agree
    for axis, what in enumerate(("calls", "rows of a batch", "elements of a row")):
        length = kept.shape[axis]
        share = (kept.narrow(axis, 0, length - 1) == kept.narrow(axis, 1, length - 1)).double().mean().item()
        expect(abs(share - independent) < 0.05, rule,
               f"neighbouring {what} agree on about {independent:.0%} of the mask, as independent draws do",
               f"they agree on {share:.0%}" + (f": one draw shared by the {what}?" if share > independent else ""))
    expect(abs(dropped - p) < 0.02, rule, f"{p:.0%} of the elements dropped (within 2 points)",
           f"{dropped:.1%} of {kept.numel()} elements dropped")


@pytest.mark.parametrize("kwargs, argument", [
    ({"rank": 0}, "rank"),
    ({"in_dim": 0}, "in_dim"),
    ({"out_dim": -1}, "out_dim"),
    pytest.param({"dropout": 1.0}, "dropout", marks=DROPOUT),
    pytest.param({"dropout": -0.1}, "dropout", marks=DROPOUT),
])
def test_bad_arguments_raise_value_error(lora, kwargs, argument):
    arguments = {"in_dim": 10, "out_dim": 6, "rank": 4, "alpha": 8, **kwargs}
    rule = f"LoRALayer({', '.join(f'{k}={v}' for k, v in arguments.items())}) raises a ValueError naming `{argument}`"
    try:
        lora.LoRALayer(**arguments)
    except ValueError as error:
        expect(argument in str(error), rule, f"the message names `{argument}`", repr(str(error)))
    else:
        expect(False, rule, "ValueError", "no error")
