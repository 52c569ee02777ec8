"""make_lora_config: peft's LoraConfig for sequence classification, with the rank, alpha and dropout given, on the
attention's query and value layers."""

import pytest

from ..judging.checks import expect


@pytest.mark.parametrize(("rank", "alpha", "dropout"), [(8, 16, 0.1), (4, 32, 0.0)])
def test_the_fields(lora, rank, alpha, dropout):
    found = lora.builtin("lora_fields", lora.make_lora_config(rank, alpha, dropout))
    expected = {"type": "LoraConfig", "r": rank, "lora_alpha": alpha, "lora_dropout": dropout,
                "target_modules": ["query", "value"], "task_type": "SEQ_CLS", "peft_type": "LORA"}
    expect(found == expected, f"make_lora_config({rank}, {alpha}, {dropout}): a LoraConfig with task_type SEQ_CLS, "
           f"r={rank}, lora_alpha={alpha}, lora_dropout={dropout}, target_modules query and value", expected, found)
