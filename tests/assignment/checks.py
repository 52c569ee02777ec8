"""The readings of this suite's models: which layers the contract's matching selects, which a message names,
a model's logits, LoRA's parameters as registered (the generic readings are ``judging/checks.py``)."""

import math
import re

import torch
from torch import nn

from ..judging.checks import tensor
from .assets import CONVENTIONS, is_head


def matching_linears(model, targets) -> list[str]:
    """In the judge's own copy of a model: the nn.Linear layers the contract's matching selects for ``targets``
    (entries in the pack's syntax: ``Conventions.matches``; never the head), in order."""
    return sorted(name for name, module in model.named_modules()
                  if isinstance(module, nn.Linear) and not is_head(name) and CONVENTIONS.matches(name, targets))


def unnamed_layers(message: str, model) -> list[str]:
    """The linear layers outside the head (of the judge's own ``model``) that ``message`` does not name.

    A layer is named by any suffix of its qualified name that no other layer's name ends with (BERT's
    ``query``, ``intermediate.dense``, ``pooler.dense``), layer numbers written however the message likes
    (``layer.0.``, ``layer.*.``) or not at all. Where every suffix is shared (BERT's ``output.dense`` ends
    ``attention.output.dense`` too), the words after the layer number must stand on their own: not after
    another name component. Whole names and the folded names of ``linear_layer_names`` name every layer;
    the last components alone (``query, key, value, dense``) do not tell four ``dense`` layers apart.
    """

    def words(name: str) -> tuple[str, ...]:  # the components after the last layer number, or the last two
        parts = name.split(".")
        numbers = [i for i, part in enumerate(parts) if part.isdigit()]
        return tuple(parts[numbers[-1] + 1:] if numbers else parts[-2:])

    layers = {words(name): name for name, module in model.named_modules()
              if isinstance(module, nn.Linear) and not is_head(name)}
    missing = []
    for own, name in layers.items():
        for k in range(1, len(own) + 1):
            suffix = own[-k:]
            if not any(other != own and other[-k:] == suffix for other in layers):
                pattern = r"(?<!\w)" + re.escape(".".join(suffix)) + r"(?!\w)"
                break
        else:
            pattern = r"(?<![A-Za-z_]\.)(?<!\w)" + re.escape(".".join(own)) + r"(?!\w)"
        if not re.search(pattern, message):
            missing.append(re.sub(r"\.\d+\.", ".*.", name))
    return sorted(set(missing))


def logits(model, input_ids, device) -> torch.Tensor:
    """A subject's model's logits for ``input_ids``, without autograd."""
    from ..judging.protocol import Placed

    output = model.call("__call__", input_ids=Placed(input_ids, device.type), no_grad=True)
    found = output.get("logits") if isinstance(output, dict) else output
    return tensor(found, "the model's forward pass returns an output with logits")


def misplaced(parameters: list[dict], dtype: torch.dtype, device_type: str) -> list[str]:
    """The parameters (as the subject describes them) not in ``dtype`` on a device of type ``device_type``."""
    wanted = str(dtype).removeprefix("torch.")
    return [f"{p['name']} ({p['dtype']} on {p['device']})" for p in parameters
            if (p["dtype"], p["device"]) != (wanted, device_type)]


def unregistered(lora, model, layer_names) -> list[str]:
    """The ``A`` and ``B`` of these LoRA layers that are not ``nn.Parameter``s registered on their layer.

    ``.to()`` on a Parameter that changes its dtype or device returns a plain tensor: set
    around nn.Module's check, it computes like the parameter but the optimiser never sees it.
    """
    registered = {p["name"]: p for p in model.parameters()}
    found = []
    for layer in layer_names:
        for name in ("A", "B"):
            path = f"{layer}.{name}" if layer else name
            info = registered.get(path)
            if not (info and info["is_parameter"] and info["identity"] == lora.builtin("identity", model, path)):
                found.append(path)
    return found


def head_count(parameters: list[dict]) -> int:
    return sum(math.prod(p["shape"]) for p in parameters if is_head(p["name"]))
