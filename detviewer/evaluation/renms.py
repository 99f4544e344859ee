"""Another NMS IoU for a whole dataset run, replayed from the cached candidates (torch-backed: it calls
``ops.nms``; the rest of ``evaluation`` stays numpy-only and never imports this module)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detviewer.core.types import Detections
from detviewer.evaluation.run_dataset import concat_rows, detection_rows
from detviewer.io.predictions import Predictions

__all__ = ["replay_nms"]


def replay_nms(predictions: Predictions, label_map: dict[int, int], iou_threshold: float,
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Predictions | None:
    """New predictions: every image's cached candidates through the model's NMS at ``iou_threshold``
    (its own score threshold, class-agnosticism and detection limit kept). None when stopped; images
    without a cached answer keep no detections."""
    from detviewer.ops.nms import nms_trace

    lut = np.full(max(label_map, default=0) + 2, -1, np.int64)
    for label, index in label_map.items():
        lut[label] = index
    parts = []
    total = len(predictions.image_hashes)
    for i in range(total):
        if should_stop is not None and should_stop():
            return None
        hit = predictions.cached(i)
        if hit is not None:
            c = hit.candidates
            trace = nms_trace(c.xyxy, c.scores, c.labels, iou_threshold=iou_threshold,
                              score_threshold=hit.nms.score_threshold, class_agnostic=hit.nms.class_agnostic,
                              max_detections=hit.nms.max_detections)
            kept = Detections(c.xyxy[trace.keep], trace.scores[trace.keep], c.labels[trace.keep])
            parts.append(detection_rows(i, kept, lut))
        if progress is not None:
            progress(i + 1, total)
    return Predictions(boxes=concat_rows(parts), source=f"{predictions.source}, NMS IoU {iou_threshold:g}",
                       cache=predictions.cache, image_hashes=predictions.image_hashes)
