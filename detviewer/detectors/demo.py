"""The project's own small demo detectors, trained on the synthetic shapes dataset.

Three families, one per view the app explains:

- ``demo-frcnn``: torchvision ``FasterRCNN`` on a small BN conv backbone + ``FeaturePyramidNetwork``
  (3 levels at strides 4/8/16 + the ``pool`` level), so the anchor and proposal views have levels.
- ``demo-ssd``: torchvision ``SSD`` on a 4-level BN conv backbone (32², 16², 8², 4² at 256 px) with a
  ``DefaultBoxGenerator`` whose scales cover 16-200 px objects.
- ``demo-yolo``: :class:`detviewer.detectors.yolo_v1.YoloV1` (S=7, B=2).

Checkpoints (``models/<name>.pt``) load with ``torch.load(path, weights_only=True)`` and hold
``{"format": "detviewer-demo", "arch", "class_names", "meta": {"input_size", ...}, "model": state_dict}``.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from detviewer.datasets.shapes import SHAPE_CLASSES
from detviewer.errors import CheckpointError, DetectorError, first_line

if TYPE_CHECKING:
    from detviewer.detectors.base import Detector, ProgressCallback
    from detviewer.detectors.registry import ModelInfo

__all__ = [
    "DEMO_CLASSES", "DEMO_MODELS", "DEMO_INPUT_SIZE", "CHECKPOINT_FORMAT",
    "build_demo_model", "checkpoint_path", "shipped_checkpoint", "save_checkpoint", "load_checkpoint", "load_demo_detector",
]

#: Labels shared by the three demos: 0 is background, 1..6 the shapes.
DEMO_CLASSES: tuple[str, ...] = ("__background__",) + SHAPE_CLASSES

#: Square model input side in pixels (images of any size are resized to it), per demo architecture.
DEMO_INPUT_SIZE: dict[str, int] = {"demo-frcnn": 256, "demo-ssd": 256, "demo-yolo": 224}
#: The demo architectures (their registry entries describe them).
DEMO_MODELS: tuple[str, ...] = tuple(DEMO_INPUT_SIZE)

CHECKPOINT_FORMAT = "detviewer-demo"

# normalisation of the shapes data (computed on generated scenes, rounded); not ImageNet's
_MEAN = [0.50, 0.52, 0.51]
_STD = [0.24, 0.25, 0.26]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _MultiLevelBackbone(nn.Module):
    """Stride-2 BN conv stages; returns an OrderedDict of the stages listed in ``returned``.

    widths[i] is stage i's channel count; stage i has stride 2**(i+1) relative to the input.
    """

    def __init__(self, widths: list[int], returned: list[int]) -> None:
        super().__init__()
        stages, cin = [], 3
        for i, w in enumerate(widths):
            layers = [_conv(cin, w, 2)] + ([_conv(w, w)] if i > 0 else [])
            stages.append(nn.Sequential(*layers))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.returned = list(returned)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.returned:
                out[str(len(out))] = x
        return out


class _FPNBackbone(nn.Module):
    """Conv stages + torchvision FeaturePyramidNetwork (+ LastLevelMaxPool): levels '0','1','2','pool'."""

    def __init__(self, widths: list[int], returned: list[int], out_channels: int) -> None:
        super().__init__()
        from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

        self.body = _MultiLevelBackbone(widths, returned)
        self.fpn = FeaturePyramidNetwork([widths[i] for i in returned], out_channels, LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(self.body(x))


def _build_frcnn(num_classes: int) -> nn.Module:
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    size = DEMO_INPUT_SIZE["demo-frcnn"]
    # stages at strides 2, 4, 8, 16; FPN on strides 4, 8, 16 (+ pool at 32)
    backbone = _FPNBackbone([24, 48, 96, 160], returned=[1, 2, 3], out_channels=64)
    anchors = AnchorGenerator(sizes=((16,), (32,), (64,), (128,)), aspect_ratios=((0.5, 1.0, 2.0),) * 4)
    # canonical 64 px at level 3 (stride 8): 32-px boxes pool from stride 4, 128-px from stride 16
    roi_pool = MultiScaleRoIAlign(["0", "1", "2"], 7, 2, canonical_scale=64, canonical_level=3)
    head = TwoMLPHead(64 * 7 * 7, 256)
    return FasterRCNN(
        backbone, num_classes=None, min_size=size, max_size=size, image_mean=_MEAN, image_std=_STD,
        rpn_anchor_generator=anchors, box_roi_pool=roi_pool, box_head=head,
        box_predictor=FastRCNNPredictor(256, num_classes),
        rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=500,
        rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=200,
        box_batch_size_per_image=128, box_detections_per_img=100,
    )


def _build_ssd(num_classes: int) -> nn.Module:
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD

    size = DEMO_INPUT_SIZE["demo-ssd"]
    # stages at strides 2..64; the four maps at strides 8, 16, 32, 64 (32², 16², 8², 4² at 256 px)
    backbone = _MultiLevelBackbone([24, 48, 96, 128, 160, 160], returned=[2, 3, 4, 5])
    boxes = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2]], scales=[0.07, 0.15, 0.3, 0.55, 0.8], steps=[8, 16, 32, 64])
    return SSD(backbone, boxes, (size, size), num_classes, image_mean=_MEAN, image_std=_STD,
               score_thresh=0.05, nms_thresh=0.45, detections_per_img=100, topk_candidates=200)


def _build_yolo(num_classes: int) -> nn.Module:
    from detviewer.detectors.yolo_v1 import YoloV1

    return YoloV1(num_classes=num_classes - 1, grid_size=7, boxes_per_cell=2, input_size=DEMO_INPUT_SIZE["demo-yolo"])


_BUILDERS = {"demo-frcnn": _build_frcnn, "demo-ssd": _build_ssd, "demo-yolo": _build_yolo}


def build_demo_model(arch: str, num_classes: int = len(DEMO_CLASSES)) -> nn.Module:
    """A randomly initialised demo model; ``num_classes`` counts the background (labels 1..C)."""
    if arch not in _BUILDERS:
        raise DetectorError(f"'{arch}' is not a demo model; choose one of {', '.join(DEMO_MODELS)}.")
    return _BUILDERS[arch](num_classes)


def checkpoint_path(arch: str) -> Path:
    """Where the shipped checkpoint of ``arch`` lives (source tree or installed wheel)."""
    from detviewer.resources import models_dir

    return models_dir() / f"{arch}.pt"


def shipped_checkpoint(arch: str) -> Path | None:
    """The shipped checkpoint file of ``arch`` if it is present, else None."""
    path = checkpoint_path(arch)
    return path if path.is_file() else None


def save_checkpoint(path: str | Path, arch: str, model: nn.Module, meta: dict) -> None:
    """Write ``model`` in the demo checkpoint format (float32 state dict, plain containers only)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"format": CHECKPOINT_FORMAT, "arch": arch, "class_names": list(DEMO_CLASSES),
               "meta": dict(meta), "model": state}
    from detviewer.io.atomic import atomic_path

    with atomic_path(path) as tmp:  # a run stopped mid-save keeps the previous checkpoint
        torch.save(payload, str(tmp))


def load_checkpoint(path: str | Path, arch: str) -> dict:
    """Read a demo checkpoint of ``arch`` through io.checkpoints (weights_only, one-sentence errors).

    Returns ``{"arch", "model" (state dict), "class_names", "meta"}``.
    """
    from detviewer.io.checkpoints import is_torchscript
    from detviewer.io.checkpoints import load_checkpoint as read_checkpoint

    if Path(path).is_file() and is_torchscript(path):
        raise CheckpointError(f"checkpoint {path} is a TorchScript module, not a detviewer demo checkpoint.")
    checkpoint = read_checkpoint(path, verify=False)
    if checkpoint.format != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is a {checkpoint.format_label}, not a detviewer demo checkpoint "
                              f"(no '{CHECKPOINT_FORMAT}' format tag).")
    if checkpoint.architecture != arch:
        raise CheckpointError(f"checkpoint {path} holds a '{checkpoint.architecture}' model, not '{arch}'.")
    return {"arch": arch, "model": checkpoint.state_dict, "class_names": list(checkpoint.class_names or ()),
            "meta": checkpoint.meta}


def _load_weights(model: nn.Module, payload: dict, path: Path) -> None:
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError) as exc:
        first = first_line(exc)
        raise CheckpointError(f"checkpoint {path} does not fit the {payload.get('arch')} architecture: {first}") from None


def load_demo_detector(name: str, weights: str = "default", device: str = "cpu"):
    """A ready Detector for a demo model.

    weights: "default" (the shipped checkpoint), "none" (random init) or a checkpoint path.
    """
    if name not in DEMO_MODELS:
        raise DetectorError(f"'{name}' is not a demo model; choose one of {', '.join(DEMO_MODELS)}.")
    num_classes = len(DEMO_CLASSES)
    model = build_demo_model(name, num_classes)
    class_names = DEMO_CLASSES
    if weights != "none":
        path = checkpoint_path(name) if weights == "default" else Path(weights)
        payload = load_checkpoint(path, name)
        _load_weights(model, payload, path)
        class_names = tuple(payload.get("class_names") or DEMO_CLASSES)
    model.eval()
    if name == "demo-yolo":
        from detviewer.detectors.yolo_v1 import YoloV1Detector

        detector = YoloV1Detector(model, name=name, class_names=class_names, device=device)
    else:
        from detviewer.detectors.torchvision_adapter import TorchvisionDetector

        detector = TorchvisionDetector(model, name=name, class_names=class_names, device=device)
    detector.framework = "detviewer-demo"  # its own thresholds, evaluated as torchvision's reference does
    return detector


def load(info: ModelInfo, weights: str, device: str, progress: ProgressCallback | None = None) -> Detector:
    """The registry's loader for the demo models: weights "default" (shipped), "none" or a checkpoint path."""
    from detviewer.detectors.registry import resolve_device

    if weights == "coco":
        raise DetectorError(f"{info.name} has no COCO weights: it was trained on detviewer's shapes; use default.")
    if progress is not None:
        progress(None, f"Loading {info.name}…")
    return load_demo_detector(info.name, weights, resolve_device(device))
