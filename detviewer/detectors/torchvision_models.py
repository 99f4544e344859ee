"""Build torchvision detectors with COCO weights, no weights, or a user's checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torchvision.models.detection as tv_detection
from torchvision.models import get_model_weights

from detviewer.detectors import weights as weights_cache
from detviewer.detectors.torchvision_adapter import TorchvisionDetector
from detviewer.errors import CheckpointError, DetectorError, first_line

if TYPE_CHECKING:
    from torch import nn

    from detviewer.detectors.base import ProgressCallback
    from detviewer.detectors.registry import ModelInfo


def coco_weights(name: str):
    """The DEFAULT (COCO) weights enum member of a torchvision detector."""
    return get_model_weights(name).DEFAULT


def coco_class_names(name: str) -> tuple[str, ...]:
    """91 COCO category names (index = label), from the weights' metadata (no download)."""
    return tuple(coco_weights(name).meta["categories"])


def generic_class_names(num_classes: int) -> tuple[str, ...]:
    """("__background__", "class 1", ...) for a head with ``num_classes`` outputs."""
    return ("__background__",) + tuple(f"class {i}" for i in range(1, num_classes))


def _builder(name: str) -> Callable[..., nn.Module]:
    return getattr(tv_detection, name)


def load_coco(name: str, device: str, progress: ProgressCallback | None = None) -> TorchvisionDetector:
    """torchvision's COCO weights, downloaded once into torch's hub cache."""
    weights = coco_weights(name)
    weights_cache.download(weights.url, progress, model_name=name)
    if progress is not None:
        progress(None, f"Building {name}")
    try:
        model = _builder(name)(weights=weights)
    except RuntimeError as exc:
        if "hash" in str(exc).lower():
            raise DetectorError(f"The cached weights {weights_cache.cache_path(weights.url)} are corrupt (hash "
                                "mismatch); delete the file and load the model again.") from None
        raise
    return TorchvisionDetector(model, name=name, class_names=weights.meta["categories"], device=device)


def load_untrained(name: str, device: str, num_classes: int | None = None,
                   class_names: Sequence[str] | None = None) -> TorchvisionDetector:
    """Random initialisation (no download): for tests and for looking at anchors."""
    names = tuple(class_names) if class_names else coco_class_names(name)
    if num_classes is not None and num_classes != len(names):
        names = generic_class_names(num_classes)
    model = _builder(name)(weights=None, weights_backbone=None, num_classes=len(names))
    return TorchvisionDetector(model, name=name, class_names=names, device=device)


def load_checkpoint_file(name: str, path: Path, device: str,
                         progress: ProgressCallback | None = None) -> TorchvisionDetector:
    """A checkpoint of architecture ``name`` (or of the one the checkpoint itself names)."""
    from detviewer.io.checkpoints import load_checkpoint

    if progress is not None:
        progress(None, f"Reading {path.name}")
    checkpoint = load_checkpoint(path, architecture=name)
    num_classes = checkpoint.num_classes
    if num_classes is None:
        raise CheckpointError(f"{path.name}: could not tell the number of classes from the detection head.")
    names = checkpoint.class_names
    if not names and num_classes == 91:
        names = coco_class_names(name)
    if not names:
        names = generic_class_names(num_classes)
    model = _builder(name)(weights=None, weights_backbone=None, num_classes=num_classes)
    try:
        model.load_state_dict(checkpoint.state_dict, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path.name} does not fit {name}: {_mismatch(exc)}.") from None
    return TorchvisionDetector(model, name=name, class_names=names, device=device)


def _mismatch(exc: Exception) -> str:
    """load_state_dict's first detail line ("Missing key(s) …"); its first line only says where it failed."""
    text = str(exc).strip().splitlines()
    detail = [line.strip() for line in text[1:] if line.strip()]
    return detail[0].rstrip(".") if detail else first_line(exc)


def load(info: ModelInfo, weights: str, device: str, progress: ProgressCallback | None = None) -> TorchvisionDetector:
    """The registry's loader for torchvision models: weights "default" / "coco", "none" or a checkpoint path."""
    from detviewer.detectors.registry import resolve_device

    device = resolve_device(device)
    if weights in ("default", "coco"):
        return load_coco(info.name, device, progress)
    if weights == "none":
        return load_untrained(info.name, device)
    return load_checkpoint_file(info.name, Path(weights), device, progress)
