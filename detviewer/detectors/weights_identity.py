"""Which file a loaded detector's weights came from, and its content hash: the identity of a run.

A run stored under the word "default" would be served after the shipped checkpoint changed; the file
behind every kind of weights is found and hashed instead: "default" of a demo model is its shipped
checkpoint, "default" / "coco" of a torchvision model is the file in torch's hub cache, an ONNX export or a
user's checkpoint is that file. Random weights ("none") have no identity: such a run is never stored.
"""

from __future__ import annotations

from pathlib import Path

from detviewer.errors import DetviewerError
from detviewer.io.content_hash import content_hash

__all__ = ["weights_file", "weights_hash", "run_settings"]


def weights_file(name: str, weights: str | None) -> Path | None:
    """The file holding ``name``'s weights as ``load_detector(name, weights)`` loaded them, or None (random
    weights, or a model detviewer does not know)."""
    weights = weights or "default"
    if weights == "none":
        return None
    if weights not in ("default", "coco"):
        return Path(weights)
    from detviewer.detectors.registry import model_info

    try:
        info = model_info(name)
    except DetviewerError:
        return None
    if info.default_weights == "shipped" and weights == "default":
        from detviewer.detectors.demo import checkpoint_path

        return checkpoint_path(name)
    if info.default_weights == "coco":
        from detviewer.detectors import weights as hub
        from detviewer.detectors.torchvision_models import coco_weights

        return hub.cache_path(coco_weights(name).url)
    return None


def weights_hash(detector) -> str:
    """sha256 (16 hex) of the detector's weights file; "" when it has none or it cannot be read."""
    path = weights_file(getattr(detector, "name", ""), getattr(detector, "weights", None))
    if path is None:
        return ""
    try:
        return content_hash(path, 16)
    except DetviewerError:
        return ""


def run_settings(detector) -> str:
    """The detector's own post-processing that shapes its answer, as text for the run's identity."""
    nms = getattr(detector, "nms", None)
    parts = [f"classes={len(getattr(detector, 'class_names', ()))}"]
    if nms is not None:
        parts.append(f"nms={nms.iou_threshold:g},{nms.score_threshold:g},{int(nms.class_agnostic)},"
                     f"{nms.max_detections}")
    return ";".join(parts)
