"""The judge/subject protocol: values move as data, frames are checked against their caps before anything is
allocated, and a subject that answers out of turn, or with garbage, fails the test that asked."""

import json
import struct
import types
from pathlib import Path

import pytest
import torch

from grader import layout
from tests.judging import protocol
from tests.judging.judge import Judge, LocalChannel, Ref, SubjectRaised
from tests.judging.protocol import Encoder, ProtocolError, decode, pack, unpack
from tests.judging.subject import Server
from tests.judging.submission import LoadedSubmission

MODELS = layout.TINY_MODELS


def reader(data: bytes):
    position = 0

    def read(count: int) -> bytes:
        nonlocal position
        chunk = data[position:position + count]
        position += len(chunk)
        return chunk

    return read


def round_trip(value):
    encoder = Encoder()
    header, tensors = unpack(reader(pack({"value": encoder.encode(value)}, encoder.tensors)))
    return decode(header["value"], tensors)


def test_values_cross_as_data():
    value = {"x": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "nan": float("nan"),
             "nested": [1, "two", None, True, {"dtype": torch.float64}]}
    found = round_trip(value)
    assert torch.equal(found["x"], value["x"]) and found["x"].dtype == torch.bfloat16
    assert found["nan"] != found["nan"]  # NaN, which JSON cannot carry as a number
    assert found["nested"] == [1, "two", None, True, {"dtype": torch.float64}]


def test_objects_do_not_cross_without_a_handle():
    with pytest.raises(ProtocolError, match="cannot send"):
        Encoder().encode(object())
    with pytest.raises(ProtocolError, match="a handle where none may be"):
        decode({"handle": 1, "type": "x"}, {})


def test_a_frame_over_the_cap_is_refused_before_it_is_read():
    huge = struct.pack("<IQ", 16, protocol.MAX_BLOB_BYTES + 1)
    with pytest.raises(ProtocolError, match="over the cap"):
        unpack(reader(huge))  # nothing after the 12 bytes: it never tried to read the blob


def test_tensors_over_the_element_cap_are_refused_from_their_header():
    declared = json.dumps({"t": {"dtype": "F32", "shape": [2**16, 2**16], "data_offsets": [0, 4]}}).encode()
    blob = struct.pack("<Q", len(declared)) + declared + b"\0" * 4
    frame = struct.pack("<IQ", 2, len(blob)) + b"{}" + blob
    with pytest.raises(ProtocolError, match="over the cap"):
        unpack(reader(frame))
    with pytest.raises(ProtocolError, match="over the cap"):  # and the sender refuses a view of terabytes
        Encoder().encode(torch.zeros(1).expand(2**31))


@pytest.mark.parametrize("data, message", [
    ("x" * (protocol.MAX_STRING + 1), "a string of"),
    ({"unknown": 1}, "not a value"),
    ({"tensor": "0", "device": "cpu", "requires_grad": False}, "not a value"),  # no such tensor in the frame
])
def test_malformed_values_are_refused(data, message):
    with pytest.raises(ProtocolError, match=message):
        decode(data, {})


def test_nesting_is_capped():
    deep = []
    for _ in range(protocol.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested"):
        decode(deep, {})


def test_a_header_that_is_not_json_is_refused():
    with pytest.raises(ProtocolError, match="not JSON"):
        unpack(reader(struct.pack("<IQ", 4, 0) + b"\xff\xfe{["))


def module(source: str) -> LoadedSubmission:
    namespace = types.ModuleType("lora_bert")
    exec(source, namespace.__dict__)
    return LoadedSubmission(Path("lora_bert.py"), module=namespace)


def local_judge(source: str) -> Judge:
    return Judge(LocalChannel(Server(module(source), MODELS)))


def test_a_handle_is_not_a_proxy():
    judge = local_judge("import torch\nclass Thing(torch.nn.Module):\n    def __eq__(self, other): return True\n")
    thing = judge.Thing()
    assert isinstance(thing, Ref) and thing.type.endswith("Thing")
    other = judge.Thing()
    assert thing != other and thing == thing  # identity only: Thing.__eq__ (always True) never runs
    with pytest.raises(AttributeError):
        thing.forward  # noqa: B018  (no attribute is forwarded)


def test_the_submissions_exceptions_keep_their_type_and_its_frames():
    judge = local_judge("def add_lora(model):\n    raise ValueError('no target named nonexistent')\n")
    with pytest.raises(ValueError, match="no target named nonexistent") as raised:
        judge.add_lora(None)
    assert isinstance(raised.value, SubjectRaised)
    assert "line 2, in add_lora" in "".join(raised.value.__notes__)


class Liar(LocalChannel):
    """A channel whose subject answers another question than the one asked."""

    def exchange(self, request: dict, tensors: dict):
        header, out = super().exchange(request, tensors)
        return {**header, "seq": header["seq"] + 1}, out


def test_an_answer_out_of_turn_fails_the_test():
    judge = Judge(Liar(Server(module("VALUE = 3\ndef f():\n    return 1\n"), MODELS)))
    with pytest.raises(pytest.fail.Exception, match="answer to another question"):
        judge.f()


def test_a_numpy_number_crosses_by_value_and_keeps_its_type_name():
    import numpy

    found = round_trip({"count": numpy.int64(120), "rate": numpy.float32(0.5)})
    assert found["count"] == 120 and found["rate"] == 0.5
    assert type(found["count"]) is not int and found["count"].type_name == "numpy.int64"
    assert found["rate"].type_name == "numpy.float32"


def test_a_numpy_count_is_judged_by_its_value():
    judge = local_judge("import numpy\ndef count():\n    return numpy.int64(120)\n")
    found = judge.count()
    assert found == 120 and found + 1 == 121  # every value test passes
    assert type(found) is not int  # the one clause about the type does not


def test_an_exception_subclass_is_caught_as_its_builtin_base():
    judge = local_judge("class LoRAArgumentError(ValueError):\n    pass\n\n"
                        "def add_lora(model):\n    raise LoRAArgumentError('rank must be at least 1')\n")
    with pytest.raises(ValueError, match="rank must be at least 1") as raised:
        judge.add_lora(None)
    assert raised.value.type_name == "LoRAArgumentError"


def frame(header: bytes, blob: bytes = b"") -> bytes:
    return struct.pack("<IQ", len(header), len(blob)) + header + blob


def tensor_blob(declared) -> bytes:
    text = json.dumps(declared).encode()
    return struct.pack("<Q", len(text)) + text


MALFORMED = {  # a subject's broken reply -> what the judge says
    "an integer past the digit limit": frame(b'{"seq": 1, "answer": "value", "value": ' + b"9" * 5000 + b"}"),
    "nesting deeper than the parser": frame(b"[" * 100_000 + b"]" * 100_000),
    "a tensor header that is a list": frame(b"{}", tensor_blob([1, 2])),
    "an unhashable dtype": frame(b"{}", tensor_blob({"t": {"dtype": ["F32"], "shape": [1]}})),
    "an unhashable tensor key": frame(b'{"seq": 1, "answer": "value", "value": '
                                      b'{"tensor": [0], "device": "cpu", "requires_grad": false}}'),
    "an unhashable answer": frame(b'{"seq": 1, "answer": ["value"], "value": 1}'),
}


class Garbler(LocalChannel):
    """A channel whose subject answers with the bytes of one malformed frame."""

    def __init__(self, server, data: bytes):
        super().__init__(server)
        self.data = data

    def exchange(self, request: dict, tensors: dict):
        return unpack(reader(self.data))


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_reply_fails_the_test_in_one_sentence(name):
    judge = Judge(Garbler(Server(module("def f():\n    return 1\n"), MODELS), MALFORMED[name]))
    with pytest.raises(pytest.fail.Exception) as failed:
        judge.f()
    message = str(failed.value)
    assert message.startswith("The submission's process stopped answering properly") and "\n" not in message
    assert "Traceback" not in message and "protocol.py" not in message
