"""The interface every detector adapter implements (Qt-free)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from detviewer.core.types import Inference, NMSParams

#: Callback for long operations (weight download, model build): (fraction 0..1 or None, message).
ProgressCallback = Callable[["float | None", str], None]

#: What a detector can show besides detections.
CAPABILITIES = ("anchors", "proposals", "default_boxes", "grid", "yolo_cells", "classic")


class Detector(ABC):
    """One loaded model. ``infer`` runs it once on an RGB frame and returns an Inference.

    Attributes: ``name`` (registry name), ``class_names`` (index = label, 0 may be
    "__background__"), ``device`` ("cpu" / "cuda"), ``capabilities`` (subset of CAPABILITIES),
    ``nms`` (the model's own post-head NMS thresholds), ``final_only_reason`` (empty, or one sentence
    saying why the model's output holds only final detections: no NMS replay, no internals to show).
    """

    name: str = ""
    class_names: tuple[str, ...] = ()
    device: str = "cpu"
    capabilities: frozenset[str] | None = None  # None: what its registry entry says (load_detector fills it)
    nms: NMSParams = NMSParams()
    final_only_reason: str = ""
    weights: str = "default"  # what load_detector loaded: default, coco, none or a file
    display_score: float | None = None  # the score threshold that shows its result cleanly (None: the window's)
    load_note: str = ""  # e.g. "untrained model: its boxes mean nothing"

    @abstractmethod
    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 RGB -> Inference in original-image pixels."""

    def pool_region(self, box_xyxy, inference: Inference, image_rgb: np.ndarray | None = None):
        """How a two-stage model's box head pools ``box_xyxy`` (4,) original pixels on the frame that gave
        ``inference`` (ops.roi.RoIPooling); ``image_rgb``: that frame, to run the model again if needed."""
        from detviewer.errors import DetectorError

        raise DetectorError(f"{self.name or 'This detector'} has no RoI pooling stage.")

    def close(self) -> None:
        """Release resources (GPU memory); the detector must not be used afterwards."""
