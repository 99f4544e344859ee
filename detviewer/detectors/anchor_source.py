"""The anchors a loaded detector matches its targets against (for ``evaluation.coverage``), or one sentence
saying why it has none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from detviewer.errors import DetectorError

if TYPE_CHECKING:
    from detviewer.detectors.base import Detector
    from detviewer.ops.model_anchors import TorchvisionAnchors

__all__ = ["anchor_source"]


def anchor_source(detector: Detector) -> TorchvisionAnchors:
    """An ``ops.model_anchors.TorchvisionAnchors`` for a torchvision Faster R-CNN / RetinaNet / SSD detector
    (the demo Faster R-CNN and SSD included); DetectorError (one sentence) for any other."""
    from detviewer.detectors.torchvision_adapter import TorchvisionDetector
    from detviewer.ops.model_anchors import TorchvisionAnchors

    name = detector.name or type(detector).__name__
    if isinstance(detector, TorchvisionDetector):
        return TorchvisionAnchors(detector.model, name)
    if getattr(detector, "family", "") == "yolo" or "yolo" in name.lower() or name.lower().endswith(".onnx"):
        layout = getattr(detector, "layout", "")
        why = ("a YOLOv5 export matches objects to its anchors by width / height ratio (anchor_t), not by IoU, and "
               "its anchor sizes are folded into the ONNX graph" if layout == "v5" else
               "it has no anchors: it predicts boxes per grid cell (YOLOv1, YOLOv8 / 11 / 26 are anchor-free)")
        raise DetectorError(f"{name}: no anchor coverage to measure: {why}. Anchor coverage covers torchvision "
                            f"Faster R-CNN, RetinaNet and SSD models.")
    raise DetectorError(f"{name} has no anchor generator detviewer can read; anchor coverage covers torchvision "
                        f"Faster R-CNN, RetinaNet and SSD models.")
