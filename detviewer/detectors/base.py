"""The interface every detector adapter implements (Qt-free)."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference, NMSParams

if TYPE_CHECKING:
    from detviewer.ops.roi import RoIPooling

#: Callback for long operations (weight download, model build): (fraction 0..1 or None, message).
ProgressCallback = Callable[["float | None", str], None]

#: What a detector can show besides detections.
CAPABILITIES = ("anchors", "proposals", "default_boxes", "grid", "yolo_cells", "classic", "svm_margins")


@dataclass(frozen=True)
class EvaluationSettings:
    """What a dataset run asks of a detector (an evaluation protocol's thresholds); None keeps the model's own.

    score_floor: keep detections scoring above this; nms_iou: the NMS IoU threshold; max_detections: per image;
    multi_label: a box may be a candidate for every class scoring above the floor (Ultralytics' val), not only
    its best one; letterbox: "predict" (Ultralytics' predict: resize to the export's size, scale up) or "val"
    (Ultralytics' val: long side to imgsz, never scaled up, rectangular per image for dynamic exports);
    clip: clip the boxes to the image (Ultralytics' val scores them unclipped).
    """

    score_floor: float | None = None
    nms_iou: float | None = None
    max_detections: int | None = None
    multi_label: bool | None = None
    letterbox: str | None = None
    clip: bool | None = None


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
    framework: str = ""  # whose validation protocol it gets: "ultralytics", "torchvision", "detviewer-demo"

    @contextlib.contextmanager
    def evaluating(self, settings: EvaluationSettings) -> Iterator[None]:
        """Within the block ``infer`` runs with ``settings`` (a dataset run's protocol); the model's own
        thresholds come back after it. The default replaces ``self.nms``' score threshold, IoU and detection limit
        (for detectors whose ``infer`` reads ``self.nms``); detectors with more to set override it."""
        from dataclasses import replace

        saved = self.nms
        self.nms = replace(saved, **_nms_changes(saved, settings))
        try:
            yield
        finally:
            self.nms = saved

    @abstractmethod
    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 RGB -> Inference in original-image pixels."""

    def pool_region(self, box_xyxy: ArrayLike, inference: Inference, image_rgb: np.ndarray | None = None) -> RoIPooling:
        """How a two-stage model's box head pools ``box_xyxy`` (4,) original pixels on the frame that gave
        ``inference`` (ops.roi.RoIPooling); ``image_rgb``: that frame, to run the model again if needed."""
        from detviewer.errors import DetectorError

        raise DetectorError(f"{self.name or 'This detector'} has no RoI pooling stage.")

    def close(self) -> None:  # noqa: B027 - an optional hook: most detectors hold nothing to release
        """Release resources (GPU memory); the detector must not be used afterwards."""


def _nms_changes(nms: NMSParams, settings: EvaluationSettings) -> dict:
    """NMSParams fields ``settings`` overrides."""
    changes = {}
    if settings.score_floor is not None:
        changes["score_threshold"] = float(settings.score_floor)
    if settings.nms_iou is not None:
        changes["iou_threshold"] = float(settings.nms_iou)
    if settings.max_detections is not None:
        changes["max_detections"] = int(settings.max_detections)
    return changes
