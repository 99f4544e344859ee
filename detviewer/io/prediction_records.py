"""One image's answer as compact blobs for the prediction store, and the checks before one is trusted.

Detections and candidates are each stored as ``n`` records of :data:`RECORD` (``xyxy`` 4 x float32,
``score`` float32, ``label`` int64: 28 bytes, little-endian; the dtypes ``core.types.Detections`` holds,
so a stored answer gives back the very numbers the model produced), written by ``ndarray.tobytes`` and
read by ``np.frombuffer`` with the count from its own column, never by pickle. The row also names the
layout (:data:`RECORD_NAME`): a row of another layout is not read.

:func:`decode` refuses (returns None, so the image is computed again) anything implausible: a count that
does not match the blob's length or exceeds :data:`MAX_BOXES`, non-finite boxes or scores, labels outside
the model's classes, an image size outside 1..:data:`MAX_SIDE`, NMS parameters out of range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams

__all__ = ["RECORD", "RECORD_NAME", "MAX_BOXES", "MAX_SIDE", "StoredImage", "encode", "decode", "records_to_arrays"]

RECORD = np.dtype([("xyxy", "<f4", (4,)), ("score", "<f4"), ("label", "<i8")])
RECORD_NAME = "xyxy<f4x4,score<f4,label<i8"
#: Most boxes one image may claim (detections or candidates); a larger count is an implausible entry.
MAX_BOXES = 1_000_000
#: Largest image side accepted from a stored entry (pixels).
MAX_SIDE = 1_000_000


@dataclass(frozen=True, eq=False)
class StoredImage:
    """One image's stored answer: detections and candidates (Detections), nms (NMSParams), image_size (H, W)."""

    detections: Detections
    candidates: Detections
    nms: NMSParams
    image_size: tuple[int, int]


def _records(d: Detections) -> bytes:
    out = np.empty(len(d), RECORD)
    out["xyxy"], out["score"], out["label"] = d.xyxy, d.scores, d.labels
    return out.tobytes()


def encode(inference: Inference) -> dict:
    """The store's column values of one image (see the module docstring)."""
    nms = inference.nms
    h, w = (int(v) for v in inference.image_size)
    return {"height": h, "width": w, "nms_iou": float(nms.iou_threshold), "nms_score": float(nms.score_threshold),
            "nms_agnostic": int(bool(nms.class_agnostic)),
            "nms_max": -1 if nms.max_detections is None else int(nms.max_detections), "record": RECORD_NAME,
            "det_n": len(inference.detections), "det": _records(inference.detections),
            "cand_n": len(inference.candidates), "cand": _records(inference.candidates)}


def records_to_arrays(blob: bytes, n: int, num_labels: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(xyxy (n, 4) float32, scores (n,) float32, labels (n,) int64) of a blob, or None when implausible.

    num_labels > 0: labels must lie in 0..num_labels-1.
    """
    if not isinstance(blob, bytes) or not isinstance(n, int) or not 0 <= n <= MAX_BOXES \
            or len(blob) != n * RECORD.itemsize:
        return None
    rec = np.frombuffer(blob, RECORD, count=n)
    xyxy, scores, labels = rec["xyxy"], rec["score"], rec["label"]
    if not (np.isfinite(xyxy).all() and np.isfinite(scores).all()):
        return None
    if n and (labels.min() < 0 or (num_labels > 0 and labels.max() >= num_labels)):
        return None
    return np.ascontiguousarray(xyxy), np.ascontiguousarray(scores), np.ascontiguousarray(labels)


def decode(row: dict, class_names: tuple[str, ...] = (), num_labels: int = 0) -> StoredImage | None:
    """The StoredImage of a row (keys as :func:`encode` writes them), or None when anything is implausible."""
    try:
        if row["record"] != RECORD_NAME:
            return None
        h, w = row["height"], row["width"]
        if not all(isinstance(v, int) and 1 <= v <= MAX_SIDE for v in (h, w)):
            return None
        iou, score, agnostic, max_det = row["nms_iou"], row["nms_score"], row["nms_agnostic"], row["nms_max"]
        if not (isinstance(iou, float) and 0.0 <= iou <= 1.0 and isinstance(score, float) and math.isfinite(score)
                and agnostic in (0, 1) and isinstance(max_det, int) and -1 <= max_det <= MAX_BOXES):
            return None
        det = records_to_arrays(row["det"], row["det_n"], num_labels)
        cand = records_to_arrays(row["cand"], row["cand_n"], num_labels)
    except (KeyError, TypeError, ValueError, MemoryError):
        return None
    if det is None or cand is None:
        return None
    nms = NMSParams(iou, score, bool(agnostic), None if max_det < 0 else max_det)
    return StoredImage(Detections(*det, class_names), Detections(*cand, class_names), nms, (h, w))
