"""Scoring adapters on held-out data: the base model loaded once, each adapter folded into its weights in turn.

A LoRA adapter changes a linear layer's weight by ``scaling * B @ A`` (peft's ``lora_B.weight @ lora_A.weight``)
and replaces the head by its saved copy; folding that into the grader's own model gives the adapted model's
logits with one forward pass over the held-out batches, no wrapper layers and no code of the student's. The base
weights are put back before each adapter, so a class is scored in one process with the model read once.
"""

from dataclasses import dataclass

import torch
from torch import nn

from grader.adapters.reading import Adapter, AdapterError


@dataclass(frozen=True)
class Score:
    accuracy: float
    examples: int


class Scorer:
    """``Scorer(base, batches).score(adapter)``: the accuracy of ``base`` with the adapter folded in."""

    def __init__(self, base: nn.Module, batches: list[dict[str, torch.Tensor]]):
        self.base = base.eval()
        self.weights = {name: tensor.detach().clone() for name, tensor in base.state_dict().items()}
        self.batches = batches

    def score(self, adapter: Adapter | None) -> Score:
        """With ``adapter`` None, the base model's own score (its head as the pack initialises it)."""
        labels = torch.cat([batch["labels"] for batch in self.batches])
        predicted = self.logits(adapter).argmax(dim=-1)
        return Score(float((predicted == labels).float().mean()), len(labels))

    def logits(self, adapter: Adapter | None) -> torch.Tensor:
        """The adapted model's logits for every held-out example, in order."""
        with torch.no_grad():
            self.base.load_state_dict(self.weights)
            if adapter is not None:
                self._fold(adapter)
            return torch.cat([self.base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                              for batch in self.batches])

    def _fold(self, adapter: Adapter) -> None:
        scaling = adapter.config.scaling
        for layer, (lora_a, lora_b) in adapter.updates.items():
            weight = self.base.get_submodule(layer).weight
            weight += (scaling * lora_b @ lora_a).to(weight.dtype)
        state = self.base.state_dict()
        for name, tensor in adapter.saved.items():
            if name not in state:  # read() matched the names to the base model; a buffer of the head is kept too
                raise AdapterError(f"adapter: {name} is not a tensor of the assignment's base model")
            state[name].copy_(tensor.to(state[name].dtype))
