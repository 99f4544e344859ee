"""Which torchvision detector a state dict belongs to, and whether it fits a model (Qt-free).

Inference works from key names and tensor shapes only; verification compares every key and
shape with the model the builder makes on the meta device (nothing is allocated).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import torch

from detviewer.errors import CheckpointError

__all__ = ["TORCHVISION_ARCHITECTURES", "infer_architecture", "check_compatible", "normalize_state_dict"]

_PREFIXES = ("module.", "_orig_mod.")

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


def check_compatible(model: torch.nn.Module | Mapping[str, Any], state_dict: Mapping, *,
                     source: str = "The checkpoint") -> None:
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
    def relevant(keys: Iterable[str]) -> list[str]:
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
