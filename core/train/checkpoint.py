"""Checkpoints that run no code and cannot be silently wrong.

A checkpoint is two files in ``RUN/checkpoints/``:

* ``step-NNNNNNN.safetensors``: every tensor of the state (networks, optimizers, RNG
  states, techniques), in safetensors, which holds raw tensors only;
* ``last.json``: the format version, the step, everything that is not a tensor, with
  each tensor replaced by a reference, and SHA-256 checksums of the tensor file and of
  this state. It is written last, atomically: it is the commit point, so a process killed
  mid-write leaves the previous checkpoint intact.

Loading verifies both checksums before anything is used; no pickle is involved at any
point. Checkpoints of ganagerie 0.1 (``last.pt``) are refused with a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .. import schemas
from ..errors import UsageError
from ..files import loads_json, read_text, write_json, write_with

FORMAT = schemas.CHECKPOINT_FORMAT
MANIFEST = "last.json"


def save_checkpoint(directory: Path, state: dict[str, Any], step: int) -> None:
    """Write ``state`` (nested dicts, lists, tuples, tensors, numbers, text) as the checkpoint of ``step``."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors)
    blob = save_tensors(tensors) if tensors else save_tensors({"_": torch.zeros(0)})
    name = f"step-{step:07d}.safetensors"
    write_with(directory / name, lambda fh: fh.write(blob))
    write_json(directory / MANIFEST, {
        "format": FORMAT, "step": step, "tensors": name,
        "tensors_sha256": hashlib.sha256(blob).hexdigest(),
        "state_sha256": _state_hash(tree), "state": tree,
    })
    for old in directory.glob("step-*.safetensors"):  # the manifest no longer names them
        if old.name != name:
            with contextlib.suppress(OSError):
                old.unlink()


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The state saved at ``path`` (a run's ``checkpoints/last.json``), checked, tensors on ``device``."""
    path = Path(path)
    legacy = path.parent / "last.pt"
    if not path.exists():
        if legacy.exists():
            raise UsageError(f"{legacy} was written by ganagerie 0.1 (checkpoint format 1); retrain the "
                             "run, or finish it with ganagerie 0.1")
        raise UsageError(f"no checkpoint at {path}; train the run first (ganagerie train)")
    damaged = f"checkpoint {path} is damaged or was edited"
    manifest = _manifest(path)
    name = manifest["tensors"]  # a plain file name: the schema's pattern has no separators
    try:
        blob = (path.parent / name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{damaged}: cannot read {name} ({exc.strerror}); rerun the run into a new "
                         "--out") from None
    if hashlib.sha256(blob).hexdigest() != manifest.get("tensors_sha256"):
        raise UsageError(f"{damaged}: {name} does not match its checksum; rerun the run into a new --out")
    try:
        tensors = load_tensors(blob)
        state = _decode(manifest["state"], tensors)
    except Exception as exc:  # checksums match but the content is not ours: a forged file
        raise UsageError(f"{path} is not a ganagerie checkpoint ({type(exc).__name__}); rerun the run "
                         "into a new --out") from None
    return _to_device(state, torch.device(device))


def _manifest(path: Path) -> dict[str, Any]:
    """``last.json``, read with the files' bounds, of this format, its state matching its checksum."""
    damaged = f"checkpoint {path} is damaged or was edited"
    try:
        manifest = loads_json(read_text(path), str(path))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{damaged} ({exc}); rerun the run from its config.json into a new --out") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UsageError(f"{path} is not a ganagerie checkpoint of format {FORMAT}; rerun the run from "
                         "its config.json into a new --out")
    try:
        schemas.check(manifest, schemas.Manifest, str(path))
    except ValueError as exc:
        raise UsageError(f"{exc}; rerun the run from its config.json into a new --out") from None
    try:
        checked = _state_hash(manifest["state"]) == manifest["state_sha256"]
    except (TypeError, ValueError):
        checked = False
    if not checked:
        raise UsageError(f"{damaged}: its state does not match its checksum; rerun the run into a new --out")
    return manifest


def _state_hash(tree: Any) -> str:
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON tree for ``obj``; tensors go to ``tensors`` and are referenced by key."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()  # no shared storage
        return {"$tensor": key}
    if isinstance(obj, dict):
        return {"$dict": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"$float": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"a checkpoint holds tensors, numbers, text, lists and dicts; not {type(obj).__name__}")


def _decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, list):
        return [_decode(v, tensors) for v in tree]
    if isinstance(tree, dict):
        ((tag, value),) = tree.items()
        if tag == "$tensor":
            return tensors[value]
        if tag == "$dict":
            return {_decode(k, tensors): _decode(v, tensors) for k, v in value}
        if tag == "$tuple":
            return tuple(_decode(v, tensors) for v in value)
        if tag == "$float":
            return float({"inf": "inf", "-inf": "-inf", "nan": "nan"}[value])
        raise ValueError(f"unknown tag {tag!r}")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise ValueError(f"unexpected {type(tree).__name__}")


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj if obj.dtype == torch.uint8 else obj.to(device)  # RNG states stay on the CPU
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_device(v, device) for v in obj)
    return obj


def load_module_state(module: torch.nn.Module, saved: Any, what: str) -> None:
    """``saved`` into ``module`` after checking it is what ``module.state_dict()`` would be:
    the same keys, and every tensor of the same shape and dtype (``load_state_dict`` would
    cast an int8 or bool weight and train on it). A mismatch is a ValueError naming the key."""
    own = module.state_dict()
    if not isinstance(saved, dict) or set(saved) != set(own):
        missing = sorted(set(own) - set(saved)) if isinstance(saved, dict) else []
        raise ValueError(f"{what}'s tensors are not this network's"
                         + (f" (missing {', '.join(missing[:3])})" if missing else ""))
    for key, mine in own.items():
        theirs = saved[key]
        if (not isinstance(theirs, torch.Tensor) or theirs.shape != mine.shape
                or theirs.dtype != mine.dtype):
            got = (f"{tuple(theirs.shape)} {theirs.dtype}" if isinstance(theirs, torch.Tensor)
                   else type(theirs).__name__)
            raise ValueError(f"{what}.{key} is {got}, the network's is {tuple(mine.shape)} {mine.dtype}")
    module.load_state_dict(saved)


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: Any, what: str) -> None:
    """``saved`` into ``optimizer`` after checking each parameter's state against the parameter:
    a tensor of the parameter's shape and dtype where it has dimensions, and a step count that
    is finite and not negative (torch would accept either and fail at the first step)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{what} has no optimizer state")
    for index, entry in state.items():
        if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(entry, dict):
            raise ValueError(f"{what}: state of parameter {index!r}, which this optimizer lacks")
        param = params[index]
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor):
                continue
            if value.dim() == 0:
                if key == "step" and not (math.isfinite(float(value)) and float(value) >= 0):
                    raise ValueError(f"{what}: parameter {index}'s step is {float(value)}")
                continue
            if value.shape != param.shape or value.dtype != param.dtype:
                raise ValueError(f"{what}: parameter {index}'s {key} is {tuple(value.shape)} "
                                 f"{value.dtype}, the parameter is {tuple(param.shape)} {param.dtype}")
    optimizer.load_state_dict(saved)


def checkpoint_step(path: Path) -> int | None:
    """The step of the checkpoint at ``path`` (a run's ``checkpoints/last.json``), read from its
    manifest with the state's checksum checked (the tensors are not read); None when there is
    no checkpoint or it is damaged. What a run has done is this, never status.json's claim."""
    try:
        manifest = _manifest(path)
    except UsageError:
        return None
    state = manifest.get("state")
    pairs = state.get("$dict") if isinstance(state, dict) else None  # _encode's form of a dict
    found = [v for pair in pairs if isinstance(pair, list) and len(pair) == 2 and pair[0] == "step"
             for v in pair[1:]] if isinstance(pairs, list) else []
    step = found[0] if len(found) == 1 and found[0] == manifest.get("step") else None
    return step if type(step) is int and step >= 0 else None
