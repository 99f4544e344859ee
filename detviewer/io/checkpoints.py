"""Safe checkpoint loading, format detection and architecture inference (Qt-free).

Pickled checkpoints are only ever read with ``torch.load(..., weights_only=True)``; the one
extra type allowed is ``argparse.Namespace`` (the ``args`` of torchvision's reference training
scripts), allowed for the duration of one load only. TorchScript archives contain code and are
loaded (with ``torch.jit.load`` on the CPU) only when the caller passes
``allow_torchscript=True``.

Formats understood (``LoadedCheckpoint.format``):

- ``"state_dict"``: a plain ``{name: tensor}`` mapping (``model.state_dict()``).
- ``"reference-script"``: torchvision's reference scripts,
  ``{"model", "optimizer", "lr_scheduler", "epoch", "args"}``; ``args.model`` names the
  architecture.
- ``"wrapped"``: a state dict under ``"model"``, ``"state_dict"`` or ``"model_state_dict"``.
- ``"detviewer-demo"``: ``{"format": "detviewer-demo", "arch", "class_names", "meta", "model"}``.
- ``"torchscript"``: a ``torch.jit.save`` archive.

Key prefixes from DataParallel/DDP (``module.``) and ``torch.compile`` (``_orig_mod.``) are
stripped, and keys from older torchvision releases are renamed as torchvision's own
``_load_from_state_dict`` hooks do, so ``state_dict`` loads into a freshly built model.

Errors the user can cause raise :class:`~detviewer.errors.CheckpointError` with one sentence.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from detviewer.errors import CheckpointError, first_line
from detviewer.io.architectures import (
    TORCHVISION_ARCHITECTURES,
    _resolve_alias,
    _same_architecture,
    _verify,
    check_compatible,
    infer_architecture,
    normalize_state_dict,
)
from detviewer.io.pickle_scan import imported_globals, pickle_is_well_formed, starts_with_torch_magic
from detviewer.io.sniff import is_text

__all__ = [
    "FORMAT_LABELS",
    "TORCHVISION_ARCHITECTURES",
    "LoadedCheckpoint",
    "load_checkpoint",
    "is_torchscript",
    "infer_architecture",
    "check_compatible",
    "normalize_state_dict",
    "count_parameters",
]

FORMAT_LABELS = {
    "state_dict": "plain state_dict",
    "reference-script": "torchvision reference-script checkpoint",
    "wrapped": "wrapped state_dict",
    "detviewer-demo": "detviewer demo checkpoint",
    "torchscript": "TorchScript module",
}

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
_STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(eq=False)
class LoadedCheckpoint:
    """A checkpoint read from disk.

    state_dict: ``{name: tensor}`` on the CPU, prefixes stripped and legacy keys renamed.
    architecture: a torchvision builder name (see TORCHVISION_ARCHITECTURES), the ``arch`` of
    a demo checkpoint, or None when unknown (TorchScript only). num_classes counts what the
    builder's ``num_classes`` argument counts (background included for torchvision models).
    parameter_count: values in the state dict excluding BatchNorm running statistics.
    meta: the demo checkpoint's ``meta``, or ``{"epoch": n}`` for training checkpoints.
    notes: sentences worth showing the user (e.g. an ambiguity that was resolved by default).
    """

    path: Path
    format: str
    state_dict: dict[str, torch.Tensor]
    architecture: str | None
    num_classes: int | None
    class_names: tuple[str, ...] | None
    args: dict | None
    torchscript_module: Any = None
    parameter_count: int = 0
    meta: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def format_label(self) -> str:
        """Human-readable format, e.g. "TorchScript module"."""
        return FORMAT_LABELS.get(self.format, self.format)


def load_checkpoint(path: str | os.PathLike[str], architecture: str | None = None, *, allow_torchscript: bool = False,
                    verify: bool = True) -> LoadedCheckpoint:
    """Read a checkpoint safely and describe it.

    architecture: if given, the checkpoint must hold weights of that architecture.
    allow_torchscript: TorchScript archives are code; they are loaded only when True.
    verify: for torchvision architectures, compare every key and shape with the model that
    ``torchvision.models.detection.<architecture>(num_classes=...)`` builds (on the meta
    device, so nothing is allocated).
    """
    path = Path(path)
    source = f'Checkpoint "{path}"'
    kind = _sniff(path, source)
    if kind == "torchscript":
        return _load_torchscript(path, source, architecture, allow_torchscript)
    obj = _torch_load(path, source)
    fmt, state_dict, info = _unwrap(obj, source)
    state_dict = normalize_state_dict(state_dict)
    notes: list[str] = []
    if fmt == "detviewer-demo" and info["arch"] not in TORCHVISION_ARCHITECTURES:
        arch, num_classes = info["arch"], info["num_classes"]
    else:
        arch, num_classes, notes = infer_architecture(state_dict, source)
        declared = info.get("arch")
        arch = _resolve_alias(arch, architecture or declared, notes)
        if declared and not _same_architecture(arch, declared):
            if fmt == "detviewer-demo":
                raise CheckpointError(f"{source} declares {declared} but holds {arch} weights.")
            notes.append(f"Its args name {declared}, but its weights are {arch}; using {arch}.")
    if architecture is not None and not _same_architecture(arch, architecture):
        raise CheckpointError(f"{source} holds {arch} weights, not {architecture}.")
    if verify:
        _verify(arch, num_classes, state_dict, source)
    return LoadedCheckpoint(
        path=path, format=fmt, state_dict=state_dict, architecture=arch, num_classes=num_classes,
        class_names=info.get("class_names"), args=info.get("args"),
        parameter_count=count_parameters(state_dict), meta=info.get("meta", {}), notes=tuple(notes),
    )


# ------------------------------------------------------------------------ reading


def is_torchscript(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a TorchScript archive (decided from the zip listing, nothing loaded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    # torch.jit.save writes "<root>/code/..." and "<root>/constants.pkl"; torch.save does not.
    return any(n.split("/", 2)[1:2] == ["code"] or n.endswith("/constants.pkl") for n in names)


def _sniff(path: Path, source: str) -> str:
    """Check the file exists and is readable; return "zip", "pickle" or "torchscript"."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        raise CheckpointError(f"{source} does not exist.") from None
    except IsADirectoryError:
        raise CheckpointError(f"{source} is a folder, not a checkpoint file.") from None
    except PermissionError:
        if path.is_dir():  # Windows reports opening a folder as permission denied
            raise CheckpointError(f"{source} is a folder, not a checkpoint file.") from None
        raise CheckpointError(f"{source} cannot be read: permission denied.") from None
    except OSError as exc:
        raise CheckpointError(f"{source} cannot be read: {first_line(exc)}.") from None
    if not head:
        raise CheckpointError(f"{source} is empty.")
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{source} is truncated or corrupt: its zip archive is incomplete.")
        return "torchscript" if is_torchscript(path) else "zip"
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    raise CheckpointError(f"{source} is not a PyTorch checkpoint: {_describe_foreign(path, head)}.")


def _describe_foreign(path: Path, head: bytes) -> str:
    if path.suffix.lower() == ".onnx":
        return "it looks like an ONNX model, which the ONNX detector loads instead"
    if len(head) > 9 and head[8:10] in (b'{"', b"{'"):
        return "it is a safetensors file, which detviewer does not read"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "it is an image"
    if is_text(head):
        return "it contains text"
    return "its content is not a zip archive or a pickle"


def _torch_load(path: Path, source: str) -> Any:
    """torch.load with weights_only=True, plus argparse.Namespace for this call only."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_unpickling_reason(path, source, str(exc))) from None
    except MemoryError:
        raise CheckpointError(f"{source} is too large to load into memory.") from None
    except Exception as exc:  # torch's unpickler lets IndexError, KeyError ... out of damaged data
        raise CheckpointError(_load_failure(path, source, exc)) from None


def _load_failure(path: Path, source: str, exc: Exception) -> str:
    if not pickle_is_well_formed(path):
        return _NOT_A_CHECKPOINT.format(path=path)
    text = str(exc)
    if isinstance(exc, (EOFError, zipfile.BadZipFile)) or re.search(
            r"central directory|PytorchStreamReader|unexpected EOF|Ran out of input|truncated", text):
        return f"{source} is truncated or corrupt: its data ends early."
    if "magic number" in text:
        return f"{source} is a plain pickle, not a PyTorch checkpoint."
    return f"{source} could not be read: {first_line(exc)}."


_NOT_A_CHECKPOINT = 'File "{path}" is not a checkpoint (not a PyTorch or pickle file we can read).'


def _unpickling_reason(path: Path, source: str, text: str) -> str:
    match = re.search(r"GLOBAL ([\w.]+)", text)
    if "Weights only load failed" in text or match:
        # torch names the refused global, except when it stops earlier on an opcode it does
        # not support (pickle protocol 4+); then list the globals without executing anything.
        name = match.group(1) if match else next(iter(imported_globals(path)), None)
        if name is None:
            if not pickle_is_well_formed(path):  # e.g. random bytes behind a pickle header
                return _NOT_A_CHECKPOINT.format(path=path)
            if not starts_with_torch_magic(path):  # e.g. pickle.dump(..., protocol=4): its FRAME stops torch
                return f"{source} is a plain pickle, not a PyTorch checkpoint."
            return (f"{source} was refused as unsafe: it is not made only of tensors and plain "
                    f"containers ({_weights_only_detail(text)}).")
        if name.startswith(("torch.", "torchvision.", "ultralytics.", "__main__.")):
            return (f'{source} holds a pickled Python object ("{name}") instead of a state dict and '
                    "was refused as unsafe, since loading it could run code (re-save model.state_dict()).")
        return (f'{source} was refused as unsafe: loading it would import "{name}", and only tensors '
                "and plain containers are allowed.")
    if "load key" in text or not pickle_is_well_formed(path):
        return _NOT_A_CHECKPOINT.format(path=path)
    return f"{source} is truncated or corrupt: {first_line(text)}."


def _weights_only_detail(text: str) -> str:
    match = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    return match.group(1).strip().rstrip(".") if match else "unsupported pickle content"


def _load_torchscript(path: Path, source: str, architecture: str | None, allowed: bool) -> LoadedCheckpoint:
    if not allowed:
        raise CheckpointError(
            f"{source} is a TorchScript module, which contains code, so it is loaded only when "
            "TorchScript is explicitly allowed (--allow-torchscript)."
        )
    try:
        import torchvision  # noqa: F401  registers torchvision::nms etc. that scripted detectors call

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch.jit raises bare RuntimeErrors for any damage
        raise CheckpointError(f"{source} is a damaged TorchScript archive: {first_line(exc)}.") from None
    state_dict = dict(module.state_dict())
    notes: list[str]
    arch, num_classes, notes = None, None, []
    try:
        arch, num_classes, notes = infer_architecture(state_dict, source)
        arch = _resolve_alias(arch, architecture, notes)
    except CheckpointError:
        notes = ["Its weights match no torchvision detector; the module runs as its own code."]
    if architecture is not None and not _same_architecture(arch, architecture):
        raise CheckpointError(f"{source} holds a TorchScript module of {arch or 'unknown architecture'}, "
                              f"not {architecture}.")
    return LoadedCheckpoint(
        path=path, format="torchscript", state_dict=state_dict, architecture=arch, num_classes=num_classes,
        class_names=None, args=None, torchscript_module=module,
        parameter_count=count_parameters(state_dict), notes=tuple(notes),
    )


# ------------------------------------------------------------------------ unwrapping


def _unwrap(obj: Any, source: str) -> tuple[str, Mapping, dict]:
    """Split a loaded object into (format, state dict, info dict)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state dict.")
    if obj.get("format") == "detviewer-demo":
        return "detviewer-demo", _tensor_mapping(obj.get("model"), source, '"model"'), _demo_info(obj, source)
    if _is_state_dict(obj):
        return "state_dict", obj, {}
    for key in _WRAPPER_KEYS:
        if key in obj and isinstance(obj[key], Mapping):
            state_dict = _tensor_mapping(obj[key], source, f'"{key}"')
            info: dict = {}
            args = obj.get("args")
            if isinstance(args, argparse.Namespace):
                args = vars(args)
            if isinstance(args, Mapping):
                info["args"] = dict(args)
                if isinstance(args.get("model"), str):
                    info["arch"] = args["model"]
            if isinstance(obj.get("epoch"), int):
                info["meta"] = {"epoch": obj["epoch"]}
            fmt = "reference-script" if key == "model" and "args" in info else "wrapped"
            return fmt, state_dict, info
    keys = ", ".join(f'"{k}"' for k in list(obj)[:5])
    raise CheckpointError(f"{source} holds a dict with keys {keys} but no state dict of tensors.")


def _is_state_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _tensor_mapping(value: Any, source: str, where: str) -> Mapping:
    if not isinstance(value, Mapping) or not _is_state_dict(value):
        raise CheckpointError(f"{source} has no state dict of tensors under {where}.")
    return value


def _demo_info(obj: Mapping, source: str) -> dict:
    arch, names, meta = obj.get("arch"), obj.get("class_names"), obj.get("meta", {})
    if not isinstance(arch, str) or not arch:
        raise CheckpointError(f'{source} is a detviewer demo checkpoint without an "arch" name.')
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f'{source} is a detviewer demo checkpoint whose "class_names" is not a list of names.')
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    num_classes = meta.get("num_classes") if isinstance(meta.get("num_classes"), int) else len(names)
    return {"arch": arch, "class_names": tuple(names), "meta": meta, "num_classes": num_classes}


def count_parameters(state_dict: Mapping) -> int:
    """Number of values in the state dict, excluding BatchNorm running statistics."""
    return int(sum(v.numel() for k, v in state_dict.items()
                   if isinstance(v, torch.Tensor) and not k.endswith(_STAT_SUFFIXES)))
