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
import pickle
import re
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from detviewer.errors import CheckpointError

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

#: The torchvision detection builders whose weights are recognised.
TORCHVISION_ARCHITECTURES = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
    "ssd300_vgg16",
    "ssdlite320_mobilenet_v3_large",
    "fcos_resnet50_fpn",
)

# These two differ only in input size and anchors, not in weights.
_MOBILENET_PAIR = frozenset({"fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn"})
_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
_PREFIXES = ("module.", "_orig_mod.")
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


def load_checkpoint(
    path, architecture: str | None = None, *, allow_torchscript: bool = False, verify: bool = True
) -> LoadedCheckpoint:
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


def is_torchscript(path) -> bool:
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
        raise CheckpointError(f"{source} cannot be read: {_first_line(exc)}.") from None
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
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "it contains text"
        except UnicodeDecodeError:
            pass
    return "its content is not a zip archive or a pickle"


def _torch_load(path: Path, source: str) -> Any:
    """torch.load with weights_only=True, plus argparse.Namespace for this call only."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_unpickling_reason(path, source, str(exc))) from None
    except (EOFError, zipfile.BadZipFile):
        raise CheckpointError(f"{source} is truncated or corrupt: its data ends early.") from None
    except MemoryError:
        raise CheckpointError(f"{source} is too large to load into memory.") from None
    except (RuntimeError, OSError, ValueError, TypeError, AttributeError) as exc:
        text = str(exc)
        if re.search(r"central directory|PytorchStreamReader|unexpected EOF|Ran out of input|truncated", text):
            raise CheckpointError(f"{source} is truncated or corrupt: its data ends early.") from None
        if "magic number" in text:
            raise CheckpointError(f"{source} is a plain pickle, not a PyTorch checkpoint.") from None
        raise CheckpointError(f"{source} could not be read: {_first_line(exc)}.") from None


def _unpickling_reason(path: Path, source: str, text: str) -> str:
    match = re.search(r"GLOBAL ([\w.]+)", text)
    if "Weights only load failed" in text or match:
        # torch names the refused global, except when it stops earlier on an opcode it does
        # not support (pickle protocol 4+); then list the globals without executing anything.
        name = match.group(1) if match else next(iter(_unsafe_globals(path)), None)
        if name is None:
            return (f"{source} was refused as unsafe: it is not made only of tensors and plain "
                    f"containers ({_weights_only_detail(text)}).")
        if name.startswith(("torch.", "torchvision.", "ultralytics.", "__main__.")):
            return (f'{source} holds a pickled Python object ("{name}") instead of a state dict and '
                    "was refused as unsafe, since loading it could run code (re-save model.state_dict()).")
        return (f'{source} was refused as unsafe: loading it would import "{name}", and only tensors '
                "and plain containers are allowed.")
    if "load key" in text:
        return f"{source} is not a PyTorch checkpoint: its pickle data is invalid."
    return f"{source} is truncated or corrupt: {_first_line(text)}."


def _weights_only_detail(text: str) -> str:
    match = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    return match.group(1).strip().rstrip(".") if match else "unsupported pickle content"


def _unsafe_globals(path: Path) -> list[str]:
    """Names a pickle would import, found by reading its opcodes (pickletools runs nothing)."""
    import io
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                data = archive.read(name)
        else:
            data = path.read_bytes()
    except (OSError, StopIteration, zipfile.BadZipFile):
        return []
    found, strings, memo = [], [], {}
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                strings.append(arg)
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
            elif op.name == "GLOBAL":
                found.append(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # a damaged pickle: report what was found before the damage
        pass
    safe = ("collections.OrderedDict", "argparse.Namespace", "torch._utils.", "torch.Size")
    return [n for n in found if not n.startswith(safe) and not (n.startswith("torch.") and n.endswith("Storage"))]


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
        raise CheckpointError(f"{source} is a damaged TorchScript archive: {_first_line(exc)}.") from None
    state_dict = dict(module.state_dict())
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


def normalize_state_dict(state_dict: Mapping) -> dict:
    """Strip ``module.`` / ``_orig_mod.`` prefixes and rename legacy torchvision keys.

    Returns a new OrderedDict (same tensors) keeping ``_metadata`` (module versions) in step.
    """
    keys = list(state_dict)
    metadata = dict(getattr(state_dict, "_metadata", None) or {})
    changed = True
    while changed and keys:
        changed = False
        for prefix in _PREFIXES:
            if all(k.startswith(prefix) for k in keys):
                keys = [k[len(prefix):] for k in keys]
                metadata = {_strip_module(m, prefix): v for m, v in metadata.items()}
                changed = True
    out = OrderedDict(zip(keys, state_dict.values()))
    _rename_legacy_keys(out)
    if metadata:
        out._metadata = metadata  # type: ignore[attr-defined]
    return out


def _strip_module(name: str, prefix: str) -> str:
    stem = prefix[:-1]
    return "" if name == stem else name[len(prefix):] if name.startswith(prefix) else name


def _rename_legacy_keys(sd: OrderedDict) -> None:
    """Rename pre-0.13 torchvision keys in place (order kept), as RPNHead / RetinaNet heads do."""
    renames = {f"rpn.head.conv.{t}": f"rpn.head.conv.0.0.{t}" for t in ("weight", "bias")}
    # RetinaNet heads used Sequential(conv, relu, ...): conv.{2i} -> conv.{i}.0. FCOS heads also
    # have conv.0 / conv.6 keys (conv, GroupNorm, ReLU, ...), so only touch RetinaNet.
    if "head.regression_head.bbox_reg.weight" in sd and "head.regression_head.bbox_ctrness.weight" not in sd:
        for head in ("head.classification_head.", "head.regression_head."):
            for i in range(4):
                for t in ("weight", "bias"):
                    renames[f"{head}conv.{2 * i}.{t}"] = f"{head}conv.{i}.0.{t}"
    renames = {old: new for old, new in renames.items() if old in sd and new not in sd}
    if renames:
        items = [(renames.get(k, k), v) for k, v in sd.items()]
        sd.clear()
        sd.update(items)


# ------------------------------------------------------------------------ architecture


def infer_architecture(state_dict: Mapping, source: str = "The state dict") -> tuple[str, int, list[str]]:
    """(architecture, num_classes, notes) from keys and tensor shapes of a normalised state dict.

    Raises CheckpointError naming what the weights look like when they are not one of
    TORCHVISION_ARCHITECTURES (classifier weights, Mask R-CNN, unknown layout).
    """
    sd = state_dict

    def rows(key: str) -> int:
        return int(sd[key].shape[0])

    if "roi_heads.box_predictor.cls_score.weight" in sd:
        for head, what in (("mask_predictor", "Mask R-CNN"), ("keypoint_predictor", "Keypoint R-CNN")):
            if any(k.startswith(f"roi_heads.{head}.") for k in sd):
                raise CheckpointError(f"{source} holds {what} weights, which detviewer does not support.")
        num_classes = rows("roi_heads.box_predictor.cls_score.weight")
        if "backbone.body.layer4.0.conv1.weight" in sd:
            v2 = "roi_heads.box_head.0.0.weight" in sd
            return ("fasterrcnn_resnet50_fpn_v2" if v2 else "fasterrcnn_resnet50_fpn"), num_classes, []
        if "backbone.body.0.0.weight" in sd:
            note = ("fasterrcnn_mobilenet_v3_large_fpn and fasterrcnn_mobilenet_v3_large_320_fpn have "
                    "identical weights; assuming fasterrcnn_mobilenet_v3_large_fpn (800 px input).")
            return "fasterrcnn_mobilenet_v3_large_fpn", num_classes, [note]
        raise CheckpointError(f"{source} holds Faster R-CNN weights with a backbone that no torchvision "
                              f'builder uses (first key "{next(iter(sd))}").')
    if "head.regression_head.bbox_ctrness.weight" in sd:
        return "fcos_resnet50_fpn", rows("head.classification_head.cls_logits.weight"), []
    if "head.classification_head.cls_logits.weight" in sd and "head.regression_head.bbox_reg.weight" in sd:
        anchors = rows("head.regression_head.bbox_reg.weight") // 4
        v2 = "head.classification_head.conv.0.1.weight" in sd  # GroupNorm after each conv
        arch = "retinanet_resnet50_fpn_v2" if v2 else "retinanet_resnet50_fpn"
        return arch, rows("head.classification_head.cls_logits.weight") // max(anchors, 1), []
    for arch, suffix in (("ssd300_vgg16", "0.weight"), ("ssdlite320_mobilenet_v3_large", "0.1.weight")):
        cls_key = f"head.classification_head.module_list.{suffix}"
        if cls_key in sd:
            anchors = rows(f"head.regression_head.module_list.{suffix}") // 4
            return arch, rows(cls_key) // max(anchors, 1), []
    raise CheckpointError(_not_a_detector(sd, source))


def _not_a_detector(sd: Mapping, source: str) -> str:
    """One sentence saying what non-detection weights look like."""
    classifier = next((k for k in ("fc.weight", "heads.head.weight", "head.weight") if k in sd), None)
    if classifier is None:
        linear = [k for k in sd if k.startswith("classifier.") and k.endswith(".weight") and sd[k].ndim == 2]
        classifier = linear[-1] if linear else None
    resnet = _resnet_name(sd)
    if classifier is not None:
        name = resnet or "image-classifier"
        return (f"{source} holds {name} classifier weights ({int(sd[classifier].shape[0])} classes): "
                "no detection head found.")
    if resnet is not None:
        return f"{source} holds {resnet} backbone weights only: no detection head found."
    return (f"{source} has an unknown architecture: its keys match none of the torchvision detectors "
            f'(first key "{next(iter(sd), "")}").')


def _resnet_name(sd: Mapping) -> str | None:
    """"resnet50" etc. from block counts of a bare torchvision ResNet, else None."""
    if "layer1.0.conv1.weight" not in sd:
        return None
    blocks = tuple(len({k.split(".")[1] for k in sd if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in sd
    depths = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 50 if bottleneck else 34, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
    return f"resnet{depths[blocks]}" if blocks in depths else "ResNet"


def _resolve_alias(arch: str | None, hint: str | None, notes: list[str]) -> str | None:
    """Use a name from the file or the caller to settle the mobilenet 800/320 ambiguity."""
    if arch in _MOBILENET_PAIR and hint in _MOBILENET_PAIR:
        notes.clear()
        return hint
    return arch


def _same_architecture(found: str | None, wanted: str) -> bool:
    return found == wanted or (found in _MOBILENET_PAIR and wanted in _MOBILENET_PAIR)


@lru_cache(maxsize=16)
def _expected_shapes(arch: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    """Key -> shape of ``torchvision.models.detection.<arch>(num_classes=...)``, built on meta."""
    from torchvision.models import detection

    with torch.device("meta"):
        model = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=num_classes)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _verify(arch: str, num_classes: int, state_dict: Mapping, source: str) -> None:
    if arch not in TORCHVISION_ARCHITECTURES:
        return
    problem = _mismatch(_expected_shapes(arch, num_classes), state_dict)
    if problem:
        raise CheckpointError(f"{source} looks like {arch} weights but does not fit it: {problem}.")


def check_compatible(model, state_dict: Mapping, *, source: str = "The checkpoint") -> None:
    """Raise CheckpointError (one sentence) unless ``state_dict`` loads strictly into ``model``.

    model: a ``torch.nn.Module`` or a mapping of its state dict. The state dict is normalised
    first (prefixes, legacy keys); missing or extra BatchNorm ``num_batches_tracked`` entries
    are ignored, as torch's BatchNorm and torchvision's FrozenBatchNorm2d accept both.
    """
    target = model.state_dict() if isinstance(model, torch.nn.Module) else model
    expected = {k: tuple(v.shape) for k, v in target.items()}
    problem = _mismatch(expected, normalize_state_dict(state_dict))
    if problem:
        name = type(model).__name__ if isinstance(model, torch.nn.Module) else "the model"
        raise CheckpointError(f"{source} does not fit {name}: {problem}.")


def _mismatch(expected: Mapping[str, tuple], state_dict: Mapping) -> str | None:
    """Describe the first problem (shape, then missing, then extra keys), or None if it fits."""
    def relevant(keys):
        return [k for k in keys if not k.endswith("num_batches_tracked")]

    for key in relevant(expected):
        if key in state_dict and tuple(state_dict[key].shape) != tuple(expected[key]):
            got, want = tuple(state_dict[key].shape), tuple(expected[key])
            hint = (" (it was trained for a different number of classes)"
                    if re.search(r"cls_score|cls_logits|classification_head", key) else "")
            return f'key "{key}" has shape {got} in the checkpoint but {want} in the model{hint}'
    missing = [k for k in relevant(expected) if k not in state_dict]
    if missing:
        return f'it lacks {len(missing)} of the model\'s keys, the first being "{missing[0]}"'
    extra = [k for k in relevant(state_dict) if k not in expected]
    if extra:
        noun = "key" if len(extra) == 1 else "keys"
        return f'it has {len(extra)} {noun} the model does not have, the first being "{extra[0]}"'
    return None


def count_parameters(state_dict: Mapping) -> int:
    """Number of values in the state dict, excluding BatchNorm running statistics."""
    return int(sum(v.numel() for k, v in state_dict.items()
                   if isinstance(v, torch.Tensor) and not k.endswith(_STAT_SUFFIXES)))


def _first_line(exc) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__
