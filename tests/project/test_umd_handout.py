"""The umd-lorabert reference does what the course's own unit tests expect (Pinafore/cl1-hw,
finetune/lorabert_test.py): their inputs and expected values, their checks of shapes, of gradient flow and of which
layers ``add_lora`` adapts, written here anew on a local tiny BERT (the course's tests load
``hf-internal-testing/tiny-random-BertForSequenceClassification`` from the Hub)."""


import pytest
import torch

from grader.assignments.pack import find
from grader.layout import ROOT

from .. import module_file

UMD = find("umd-lorabert")
TINY_BERT = str(ROOT / "tiny_models" / "bert-tiny")
# the course's test: the components a BERT block could adapt, and three choices of them
ALL_MODULES = {"output": ["dense"], "intermediate": ["dense"]}
CHOICES = [{"intermediate": ["dense"]}, {"intermediate": ["dense"], "output": ["dense"]}, {"output": ["dense"]}]


@pytest.fixture(scope="module")
def handout():
    return module_file.load("umd_reference", UMD.reference)


@pytest.fixture
def layer(handout):
    return handout.LoRALayer(in_dim=3, out_dim=4, rank=2, alpha=0.5)


def test_shapes_of_A_and_B(layer):
    assert layer.A.shape == (3, 2) and layer.B.shape == (2, 4)


def test_forward_gives_the_courses_values(layer):
    with torch.no_grad():
        layer.A.data = torch.FloatTensor([[1, 0], [0, 3], [0, 0]])
        layer.B.data = torch.FloatTensor([[1, 0, 4, 6], [0, 3, -1, 3]])
    found = layer(torch.FloatTensor([2, 4, 6]))
    assert torch.isclose(found, torch.FloatTensor([1.0, 18.0, -2.0, 24.0])).all(), found


def test_gradients_flow_as_the_course_checks(layer):
    x = torch.FloatTensor([2, 4, 6]).requires_grad_()
    layer(x).sum().backward()
    assert x.grad is not None
    assert torch.any(layer.A.grad == 0)  # B is zero at the start: no gradient reaches A yet
    assert torch.any(layer.B.grad != 0)


@pytest.mark.parametrize("choice", CHOICES, ids=["intermediate", "both", "output"])
def test_adapts_the_chosen_modules_of_each_block_and_no_other(handout, choice):
    model, _ = handout.initialize_base_model(model_name=TINY_BERT)
    for block in model.bert.encoder.layer:
        assert all(isinstance(getattr(getattr(block, c), m), torch.nn.Linear) for c in ALL_MODULES
                   for m in ALL_MODULES[c])
    handout.add_lora(model.bert.encoder, rank=2, alpha=0.5, modules_to_adapt=choice)
    for block in model.bert.encoder.layer:
        for component, children in ALL_MODULES.items():
            for child in children:
                kind = handout.LinearLoRA if component in choice else torch.nn.Linear
                assert type(getattr(getattr(block, component), child)) is kind, (component, child, choice)
