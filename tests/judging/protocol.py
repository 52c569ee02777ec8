"""The contract between the judge (the suite, under pytest) and the subject (the process that runs the submission).

The judge decides; the subject only carries out what it is asked and answers with data.
Everything that crosses is declared here, and both sides import this module (it imports
nothing of the suite, so the subject can have it without any test):

- a **request** names one :class:`Op` and its fields; a **reply** carries the request's
  sequence number and one :class:`Answer`;
- values are JSON (None, booleans, numbers, strings, lists, string-keyed dicts), tensors
  (moved as safetensors bytes: dtype, shape and raw data, no code), and handles to objects
  that stay in the subject (a module, a tokenizer), named by number;
- a frame is ``[header length: 4 bytes][blob length: 8 bytes][JSON header][safetensors blob]``.

Never pickle, never ``torch.load``: decoding a frame runs no code of the sender's. The caps
below bound what one frame may make the judge allocate or walk.
"""

import enum
import json
import math
import numbers
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

MAX_HEADER_BYTES = 8 * 2**20  # the JSON part of one frame
MAX_BLOB_BYTES = 256 * 2**20  # the tensors of one frame
MAX_TENSOR_ELEMENTS = 16 * 2**20  # all tensors of one frame together
MAX_STRING = 200_000  # characters in one string
MAX_ITEMS = 100_000  # entries of one list or dict
MAX_DEPTH = 12  # nesting of lists and dicts
FRAME = struct.Struct("<IQ")

DTYPES = {  # what a tensor may be, by safetensors' names
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


class Op(enum.StrEnum):
    """What the judge asks of the subject."""

    RESET = "reset"  # forget every handle, seed the random generators
    CALL = "call"  # call a submission name, a handle, a handle's method, or a builtin
    GET = "get"  # an attribute path of a handle, as a value
    SET = "set"  # set an attribute path of a handle to a value
    ASSIGN = "assign"  # copy a tensor into the tensor at an attribute path, without autograd
    PARAMETERS = "parameters"  # a module's named parameters: shape, dtype, device, requires_grad, identity
    MODULES = "modules"  # a module's named submodules, with their types
    TENSORS = "tensors"  # a module's named parameters (or chosen ones) as tensors
    BACKWARD = "backward"  # backpropagate from a tensor handle


class Answer(enum.StrEnum):
    """How the subject answered."""

    CONTAINED = "contained"  # a subject's first frame, before the submission is imported: its layers
    READY = "ready"  # the next one: what importing the submission gave
    VALUE = "value"
    RAISED = "raised"  # the submission's code raised
    MISSING = "missing"  # the submission defines no such name
    REFUSED = "refused"  # the request could not be carried out (no such handle, a bad path)


class Handle(TypedDict):
    """An object that stays in the subject; ``type`` is its class's qualified name (the subject's word)."""

    handle: int
    type: str


class TensorRef(TypedDict):
    """A tensor in the frame's blob; ``device`` is where it was in the subject."""

    tensor: str
    device: str
    requires_grad: bool


class Raised(TypedDict):
    type: str  # the exception's class name
    builtins: list[str]  # the builtin exception classes it derives from, most derived first
    message: str
    where: str  # the submission's own frames of its traceback


class Number(TypedDict):
    """A number of a type that is not Python's own (``numpy.int64``, ``numpy.float32``): its value and its type."""

    number: int | float
    type: str


class ForeignInt(int):
    """An integer the subject returned as another type: equal to its value, and ``type(found) is int`` is
    False, so only a clause about the type sees the difference."""

    type_name = "int"

    def __repr__(self) -> str:
        return f"{int(self)} (a {self.type_name})"


class ForeignFloat(float):
    """A float the subject returned as another type (``numpy.float32``): see :class:`ForeignInt`."""

    type_name = "float"

    def __repr__(self) -> str:
        return f"{float(self)} (a {self.type_name})"


class Ready(TypedDict):
    import_error: str | None
    cell_errors: list[str]
    printed: str  # the start of what importing printed
    printed_chars: int


class ParameterInfo(TypedDict):
    name: str
    shape: list[int]
    dtype: str
    device: str
    requires_grad: bool
    is_parameter: bool
    identity: int  # the same number for the same tensor object, within one subject


class ModuleInfo(TypedDict):
    name: str
    type: str  # qualified class name
    identity: int
    kinds: list[str]  # which of the names asked about it is an instance of


class Request(TypedDict):
    seq: int
    op: str  # an Op
    fields: dict[str, Any]


class Reply(TypedDict):
    seq: int
    answer: str  # an Answer
    value: NotRequired[Any]


class ProtocolError(Exception):
    """A frame that breaks the contract: too large, malformed, or not what was asked."""


# -- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A tensor the judge sends, and where the subject is to put it (its device, whether it needs a gradient)."""

    tensor: torch.Tensor
    device: str = "cpu"
    requires_grad: bool = False


class Encoder:
    """Turns values into JSON-able data plus named tensors; ``keep`` decides which objects become handles."""

    def __init__(self, keep=None):
        self.tensors: dict[str, torch.Tensor] = {}
        self.elements = 0
        self.keep = keep  # object -> Handle, for what is not data (the subject's side); None: refuse

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if value is None or isinstance(value, bool | str):
            return value
        if type(value) in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                return {"float": repr(value)}  # JSON has no NaN or infinity
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, torch.Tensor):
            return self._number(value)
        if isinstance(value, torch.Tensor):
            return self._tensor(value, value.device.type, bool(value.requires_grad))
        if isinstance(value, Placed):
            return self._tensor(value.tensor, value.device, value.requires_grad)
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if isinstance(value, list | tuple):
            return [self.encode(item, depth + 1) for item in value]
        if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):  # a ModelOutput, a BatchEncoding
            return {"dict": {key: self.encode(item, depth + 1) for key, item in value.items()}}
        if self.keep is None:
            raise ProtocolError(f"cannot send a {type(value).__name__}")
        return self.keep(value)

    def _number(self, value) -> Number | Handle:
        """A numpy scalar, an int or float subclass: moved by value, with its type's name. One whose conversion
        raises (a student's own class) or gives no finite number stays a handle."""
        kind = type(value)
        try:
            number = int(value) if isinstance(value, numbers.Integral) else float(value)
        except Exception:
            number = None
        if number is None or (isinstance(number, float) and not math.isfinite(number)):
            if self.keep is None:
                raise ProtocolError(f"cannot send a {kind.__name__}")
            return self.keep(value)
        return {"number": number, "type": f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")}

    def _tensor(self, tensor: torch.Tensor, device: str, requires_grad: bool) -> TensorRef:
        self.elements += tensor.numel()
        if self.elements > MAX_TENSOR_ELEMENTS:  # before anything is copied: a view can stand for terabytes
            raise ProtocolError(f"tensors of {self.elements:,} elements, over the cap of {MAX_TENSOR_ELEMENTS:,}")
        key = str(len(self.tensors))
        self.tensors[key] = tensor.detach().to("cpu", copy=True).contiguous()
        return {"tensor": key, "device": device, "requires_grad": requires_grad}


def decode(data, tensors: dict[str, torch.Tensor], handle=None, place=None):
    """Data back into values; ``handle`` turns a Handle into the receiver's object for it, ``place`` a
    TensorRef and its tensor into the tensor the receiver uses (the subject's: on that device). Whatever
    does not read as a value (an unhashable key, an integer past Python's digit limit) is a ProtocolError."""
    try:
        return _decode(data, tensors, handle, place, 0)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError) as error:
        raise ProtocolError(f"a value that cannot be read ({type(error).__name__})") from None


def _decode(data, tensors: dict[str, torch.Tensor], handle, place, depth: int):
    if depth > MAX_DEPTH:
        raise ProtocolError("nested too deeply")
    if data is None or isinstance(data, bool | int | float):
        return data
    if isinstance(data, str):
        if len(data) > MAX_STRING:
            raise ProtocolError(f"a string of {len(data)} characters")
        return data
    if isinstance(data, list):
        if len(data) > MAX_ITEMS:
            raise ProtocolError(f"a list of {len(data)} items")
        return [_decode(item, tensors, handle, place, depth + 1) for item in data]
    if not isinstance(data, dict) or len(data) > MAX_ITEMS:
        raise ProtocolError(f"not a value: {type(data).__name__}")
    if set(data) == {"dict"} and isinstance(data["dict"], dict):
        return {str(key): _decode(item, tensors, handle, place, depth + 1) for key, item in data["dict"].items()}
    if set(data) == {"number", "type"} and type(data["number"]) in (int, float) and isinstance(data["type"], str):
        number = (ForeignInt if type(data["number"]) is int else ForeignFloat)(data["number"])
        number.type_name = data["type"][:200]
        return number
    if set(data) == {"float"} and data["float"] in ("nan", "inf", "-inf"):
        return float(data["float"])
    if set(data) == {"dtype"} and f"{data['dtype']}" in _DTYPE_NAMES:
        return _DTYPE_NAMES[data["dtype"]]
    if set(data) == {"tensor", "device", "requires_grad"} and data["tensor"] in tensors:
        return place(data, tensors[data["tensor"]]) if place else tensors[data["tensor"]]
    if set(data) == {"handle", "type"} and isinstance(data["handle"], int) and isinstance(data["type"], str):
        if handle is None:
            raise ProtocolError("a handle where none may be")
        return handle(data)
    raise ProtocolError(f"not a value: keys {sorted(data)[:5]}")


_DTYPE_NAMES = {str(dtype).removeprefix("torch."): dtype for dtype in DTYPES.values()}


# -- frames -------------------------------------------------------------------------------


def pack(header: dict, tensors: dict[str, torch.Tensor]) -> bytes:
    head = json.dumps(header, allow_nan=False).encode()
    blob = save_tensors(tensors) if tensors else b""
    return FRAME.pack(len(head), len(blob)) + head + blob


def read_exactly(read, count: int) -> bytes:
    """``count`` bytes from ``read`` (a socket's ``recv``); EOF before that is a ProtocolError."""
    chunks, left = [], count
    while left:
        chunk = read(min(left, 2**20))
        if not chunk:
            raise ProtocolError("the channel closed in the middle of a frame" if chunks or count != FRAME.size
                                else "the channel closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def unpack(read) -> tuple[dict, dict[str, torch.Tensor]]:
    """One frame from ``read``, checked against the caps before anything is allocated for it."""
    head_size, blob_size = FRAME.unpack(read_exactly(read, FRAME.size))
    if head_size > MAX_HEADER_BYTES or blob_size > MAX_BLOB_BYTES:
        raise ProtocolError(f"a frame of {head_size + blob_size:,} bytes, over the cap")
    try:
        header = json.loads(read_exactly(read, head_size))
    except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, an integer past the digit limit, nested deep
        raise ProtocolError(f"a header that is not JSON that can be read ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not an object")
    blob = read_exactly(read, blob_size) if blob_size else b""
    return header, _tensors(blob)


def _tensors(blob: bytes) -> dict[str, torch.Tensor]:
    """safetensors bytes, after checking what their header declares: known dtypes, sizes within the caps."""
    if not blob:
        return {}
    if len(blob) < 8:
        raise ProtocolError("a tensor blob without a header")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > len(blob) - 8:
        raise ProtocolError("a tensor header longer than its blob")
    try:
        declared = json.loads(blob[8:8 + size])
    except (ValueError, RecursionError):
        raise ProtocolError("a tensor header that is not JSON") from None
    if not isinstance(declared, dict):
        raise ProtocolError("a tensor header that is not an object")
    elements = 0
    for name, entry in declared.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str) or entry["dtype"] not in DTYPES \
                or not isinstance(entry.get("shape"), list):
            raise ProtocolError(f"tensor {name!r}: not a tensor of a known dtype")
        if not all(isinstance(d, int) and d >= 0 for d in entry["shape"]):
            raise ProtocolError(f"tensor {name!r}: a bad shape")
        elements += math.prod(entry["shape"])
    if elements > MAX_TENSOR_ELEMENTS:
        raise ProtocolError(f"tensors of {elements:,} elements, over the cap of {MAX_TENSOR_ELEMENTS:,}")
    try:
        return load_tensors(blob)
    except Exception as error:  # safetensors' own errors: inconsistent offsets, truncated data
        raise ProtocolError(f"tensors that do not load: {error}") from None
