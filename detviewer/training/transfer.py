"""Start a demo model from another demo model's trained backbone (YOLOv1 likewise started from a
backbone pretrained on another task; here the other task is Faster R-CNN on the same shapes)."""

from __future__ import annotations

from pathlib import Path

import torch

from detviewer.detectors.demo import load_checkpoint
from detviewer.errors import CheckpointError

__all__ = ["YOLO_FROM_FRCNN", "init_yolo_backbone_from_frcnn"]

#: YoloV1 layer prefix <- demo-frcnn layer prefix (each a Conv2d + BatchNorm2d block).
YOLO_FROM_FRCNN: dict[str, str] = {
    "to_stride8.0.": "backbone.body.stages.0.0.",
    "to_stride8.1.": "backbone.body.stages.1.0.",
    "to_stride8.2.": "backbone.body.stages.1.1.",
    "to_stride8.3.": "backbone.body.stages.2.0.",
    "to_stride8.4.": "backbone.body.stages.2.1.",
    "to_stride16.0.": "backbone.body.stages.3.0.",
    "to_stride16.1.": "backbone.body.stages.3.1.",
}


def init_yolo_backbone_from_frcnn(model: torch.nn.Module, frcnn_checkpoint: str | Path) -> int:
    """Copy demo-frcnn's backbone body into a YoloV1's ``to_stride8`` / ``to_stride16``.

    Returns the number of tensors copied; raises CheckpointError if a layer is missing or differs.
    """
    source = load_checkpoint(frcnn_checkpoint, "demo-frcnn")["model"]
    target = model.state_dict()
    copied = {}
    for yolo_prefix, frcnn_prefix in YOLO_FROM_FRCNN.items():
        for key in [k for k in target if k.startswith(yolo_prefix)]:
            other = frcnn_prefix + key[len(yolo_prefix):]
            if other not in source or source[other].shape != target[key].shape:
                raise CheckpointError(f"checkpoint {frcnn_checkpoint} has no layer {other} shaped like {key}.")
            copied[key] = source[other]
    model.load_state_dict(copied, strict=False)
    return len(copied)
