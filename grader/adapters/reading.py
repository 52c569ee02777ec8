"""A student's LoRA adapter read as data: peft's folder format, checked before a byte of its weights is loaded.

peft's ``save_pretrained`` writes ``adapter_config.json`` and ``adapter_model.safetensors``. Neither needs
any code of the student's to read: the config is JSON, of which only the keys below are read (a key that
makes peft or transformers import code, ``auto_map`` and its kind, is refused, not ignored), and a
safetensors file is an 8-byte header length, a JSON header naming each tensor's dtype, shape and byte
range, then raw bytes. The header is read and checked first (its size capped, every range inside the
file, no two ranges overlapping, each the size its shape and dtype say), then the names and shapes against
the grader's own copy of the base model, and only then are the bytes read, by safetensors' own loader,
which executes nothing. A pickle file (``.bin``, ``.pt``, ``.pth``, ``.pkl``) is refused unopened: loading
one can run any code. Every refusal is an ``AdapterError`` whose message is the sentence the student reads.

Written here rather than taken from peft: ``PeftModel.from_pretrained`` reads whatever the config says
(remote code included) and loads ``.bin`` files with torch's unpickler where no safetensors file exists.
"""

import itertools
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

CONFIG, WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
CODE_KEYS = ("auto_map", "auto_mapping", "trust_remote_code", "custom_code")
PREFIX = "base_model.model."
ITEM_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
MAX_CONFIG_BYTES = 64 * 1024
MAX_HEADER_BYTES = 1024 * 1024
EXPORT_HINT = ("export it as safetensors: peft's model.save_pretrained(folder) writes adapter_model.safetensors "
               "(safe_serialization is its default), as the reference's export_peft_adapter does")


class AdapterError(ValueError):
    """An adapter the grader will not score; the message is the sentence the student reads."""


@dataclass(frozen=True)
class AdapterConfig:
    """What the grader reads of adapter_config.json."""

    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    modules_to_save: tuple[str, ...]
    base_model: str  # as the student's config names it; never loaded from

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


@dataclass(frozen=True)
class Adapter:
    config: AdapterConfig
    updates: dict[str, tuple[torch.Tensor, torch.Tensor]]  # wrapped nn.Linear's name -> (lora_A, lora_B) weights
    saved: dict[str, torch.Tensor]  # a parameter of modules_to_save (the head) by its name in the base model


def read(folder: Path, base: nn.Module, max_megabytes: float = 64) -> Adapter:
    """The adapter in ``folder``, checked against ``base`` (the grader's own copy of the pack's base model, with
    the pack's head); raises ``AdapterError`` with the reason."""
    refuse_pickles(folder)
    config = read_config(folder / CONFIG)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise AdapterError(f"adapter: no {WEIGHTS} beside {CONFIG}; {EXPORT_HINT}")
    size = weights.stat().st_size
    if size > max_megabytes * 1024 * 1024:
        raise AdapterError(f"adapter: {WEIGHTS} is {size / 2**20:.1f} MB, over the cap of {max_megabytes:g} MB "
                           "(a LoRA adapter of this assignment is far smaller)")
    header = read_header(weights, size)
    layers = lora_layers(config, base)
    expected = expected_shapes(config, base, layers)
    check_names_and_shapes(header, expected)
    from safetensors.torch import load_file  # reads raw bytes into tensors: no code

    tensors = load_file(weights)
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise AdapterError(f"adapter: {name} holds NaN or infinite values")
    updates = {layer: (tensors[f"{PREFIX}{layer}.lora_A.weight"].float(),
                       tensors[f"{PREFIX}{layer}.lora_B.weight"].float())
               for layer in layers}
    saved = {name.removeprefix(PREFIX): tensor.float() for name, tensor in tensors.items()
             if ".lora_A." not in name and ".lora_B." not in name}
    return Adapter(config, updates, saved)


def refuse_pickles(folder: Path) -> None:
    pickles = sorted(path.name for path in folder.iterdir() if path.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise AdapterError(f"adapter: {', '.join(pickles)} is a pickle file, which can run any code when it is "
                           f"loaded, so it is not opened; {EXPORT_HINT}")


def read_config(path: Path) -> AdapterConfig:
    if not path.is_file():
        raise AdapterError(f"adapter: no {CONFIG}; {EXPORT_HINT}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise AdapterError(f"adapter: {CONFIG} is over {MAX_CONFIG_BYTES // 1024} KB; an adapter's config is a few "
                           "lines")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdapterError(f"adapter: {CONFIG} is not JSON ({error})") from None
    if not isinstance(config, dict):
        raise AdapterError(f"adapter: {CONFIG} is not a JSON object")
    if code := [key for key in CODE_KEYS if config.get(key)]:
        raise AdapterError(f"adapter: {CONFIG} asks to load code ({', '.join(code)}); the grader runs none, remove "
                           "it")
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"adapter: {CONFIG} has peft_type {config.get('peft_type')!r}, not \"LORA\"")
    rank, alpha = config.get("r"), config.get("lora_alpha")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= 1024:
        raise AdapterError(f"adapter: {CONFIG} has r {rank!r}, not a whole number from 1 to 1024")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not math.isfinite(alpha):
        raise AdapterError(f"adapter: {CONFIG} has lora_alpha {alpha!r}, not a finite number")
    targets = config.get("target_modules")
    targets = (targets,) if isinstance(targets, str) else targets
    if not isinstance(targets, list | tuple) or not targets or not all(isinstance(t, str) for t in targets):
        raise AdapterError(f"adapter: {CONFIG} has target_modules {config.get('target_modules')!r}, not a list of "
                           "module names")
    saved = config.get("modules_to_save") or ()
    if not isinstance(saved, list | tuple) or not all(isinstance(m, str) for m in saved):
        raise AdapterError(f"adapter: {CONFIG} has modules_to_save {saved!r}, not a list of module names")
    if config.get("fan_in_fan_out") or config.get("bias", "none") != "none" or config.get("use_dora"):
        raise AdapterError(f"adapter: {CONFIG} asks for fan_in_fan_out, LoRA biases or DoRA, which this assignment's "
                           "adapters do not use")
    return AdapterConfig(rank, float(alpha), tuple(targets), tuple(saved),
                         str(config.get("base_model_name_or_path") or ""))


def read_header(path: Path, size: int) -> dict[str, dict]:
    """The safetensors header, checked against the file's real size: name -> {dtype, shape, data_offsets}."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise AdapterError(f"adapter: {WEIGHTS} is too short to be safetensors")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise AdapterError(f"adapter: {WEIGHTS}'s header says it is {length:,} bytes long, more than the file "
                               f"or the cap of {MAX_HEADER_BYTES:,} allows")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AdapterError(f"adapter: {WEIGHTS}'s header is not JSON: not a safetensors file") from None
    if not isinstance(header, dict):
        raise AdapterError(f"adapter: {WEIGHTS}'s header is not a JSON object")
    header.pop("__metadata__", None)
    data = size - 8 - length
    spans = []
    for name, entry in header.items():
        if not (isinstance(entry, dict) and entry.get("dtype") in ITEM_BYTES and isinstance(entry.get("shape"), list)
                and all(isinstance(n, int) and n >= 0 for n in entry["shape"])
                and isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2
                and all(isinstance(n, int) for n in entry["data_offsets"])):
            raise AdapterError(f"adapter: {WEIGHTS} describes {name} with a dtype, shape or byte range it cannot "
                               f"have ({str(entry)[:200]}); the dtypes read are {', '.join(ITEM_BYTES)}")
        begin, end = entry["data_offsets"]
        needed = math.prod(entry["shape"]) * ITEM_BYTES[entry["dtype"]]
        if not 0 <= begin <= end <= data or end - begin != needed:
            raise AdapterError(f"adapter: {WEIGHTS}'s header lies about {name}: bytes {begin} to {end} of {data} "
                               f"for a {entry['dtype']} tensor of shape {entry['shape']} ({needed} bytes)")
        spans.append((begin, end, name))
    spans.sort()
    for (_, end, first), (begin, _, second) in itertools.pairwise(spans):
        if begin < end:
            raise AdapterError(f"adapter: {WEIGHTS}'s header lets {first} and {second} share bytes")
    return header


def heads(config: AdapterConfig, base: nn.Module) -> list[str]:
    """The entries of modules_to_save that the base model has: peft lists both ``classifier`` and ``score`` for
    any sequence classifier and saves the one the model has; a head the model lacks is ignored, as peft ignores
    it (its tensors, if any, are then unexpected)."""
    return [head for head in config.modules_to_save if isinstance(getattr(base, head, None), nn.Module)]


def lora_layers(config: AdapterConfig, base: nn.Module) -> list[str]:
    """The base model's nn.Linear layers that the config's target_modules name (peft's rule: a name equal to an
    entry, or ending with "." and the entry), the head excluded."""
    saved = set(heads(config, base))
    return sorted(name for name, module in base.named_modules()
                  if isinstance(module, nn.Linear) and name.split(".")[0] not in saved
                  and any(name == entry or name.endswith("." + entry) for entry in config.target_modules))


def expected_shapes(config: AdapterConfig, base: nn.Module, layers: list[str]) -> dict[str, tuple[int, ...]]:
    """Each tensor name the adapter must hold, with its shape: LoRA's on ``layers`` (``lora_layers``), the heads'."""
    if not layers:
        raise AdapterError(f"adapter: target_modules {list(config.target_modules)} name no linear layer of the "
                           "assignment's base model")
    expected = {}
    for layer in layers:
        linear = base.get_submodule(layer)
        expected[f"{PREFIX}{layer}.lora_A.weight"] = (config.rank, linear.in_features)
        expected[f"{PREFIX}{layer}.lora_B.weight"] = (linear.out_features, config.rank)
    for head in heads(config, base):
        for name, param in getattr(base, head).named_parameters():
            expected[f"{PREFIX}{head}.{name}"] = tuple(param.shape)
    return expected


def check_names_and_shapes(header: dict[str, dict], expected: dict[str, tuple[int, ...]]) -> None:
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        shown = "; ".join(part for part in (f"missing {', '.join(missing[:4])}" if missing else "",
                                            f"unexpected {', '.join(unexpected[:4])}" if unexpected else "") if part)
        raise AdapterError(f"adapter: its tensors do not match its config and the assignment's base model ({shown})")
    wrong = [f"{name} is {header[name]['shape']}, expected {list(shape)}" for name, shape in expected.items()
             if tuple(header[name]["shape"]) != shape]
    if wrong:
        raise AdapterError(f"adapter: wrong shapes: {'; '.join(wrong[:4])}")
