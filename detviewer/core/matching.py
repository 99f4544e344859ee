"""One image's detections matched to its ground truth: true positives, false positives, missed objects.

The matching is COCO's (pycocotools ``evaluateImg`` at one IoU threshold, no crowd, all areas):
detections in order of decreasing score each take, among the not yet matched ground-truth boxes
of their class, the one with the highest IoU if that IoU reaches the threshold (on a tie the later
box in ground-truth order wins, as in pycocotools). What is left unmatched is a false positive
(detection) or a miss (ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GtMatch", "match_to_ground_truth"]


@dataclass(frozen=True, eq=False)
class GtMatch:
    """tp (D,) bool; matched_gt (D,) int64 GT index or -1; iou (D,) float32 IoU with the matched box
    (0 when unmatched); missed (M,) bool GT boxes no detection matched; iou_threshold."""

    tp: np.ndarray
    matched_gt: np.ndarray
    iou: np.ndarray
    missed: np.ndarray
    iou_threshold: float

    @property
    def counts(self) -> tuple[int, int, int]:
        """(true positives, false positives, missed ground truth)."""
        tp = int(self.tp.sum())
        return tp, int(len(self.tp) - tp), int(self.missed.sum())

    def summary(self) -> str:
        tp, fp, fn = self.counts
        return f"TP {tp} · FP {fp} · missed {fn} at IoU ≥ {self.iou_threshold:g}"


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of xyxy boxes, float64."""
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_to_ground_truth(det_xyxy, det_scores, det_labels, gt_xyxy, gt_labels,
                          iou_threshold: float = 0.5) -> GtMatch:
    """Match detections (D, 4) xyxy / (D,) scores / (D,) labels to ground truth (M, 4) / (M,) labels.

    Boxes in the same pixels, labels in the same label space (a detection only matches its class).
    """
    det_xyxy = np.asarray(det_xyxy, np.float64).reshape(-1, 4)
    gt_xyxy = np.asarray(gt_xyxy, np.float64).reshape(-1, 4)
    det_scores = np.asarray(det_scores, np.float64).reshape(-1)
    det_labels = np.asarray(det_labels, np.int64).reshape(-1)
    gt_labels = np.asarray(gt_labels, np.int64).reshape(-1)
    if not (len(det_xyxy) == len(det_scores) == len(det_labels)) or len(gt_xyxy) != len(gt_labels):
        raise ValueError("boxes, scores and labels must have the same length")
    d, m = len(det_xyxy), len(gt_xyxy)
    matched = np.full(d, -1, np.int64)
    iou_of = np.zeros(d, np.float32)
    taken = np.zeros(m, bool)
    ious = _iou_matrix(det_xyxy, gt_xyxy)
    same_class = det_labels[:, None] == gt_labels[None, :]
    limit = min(iou_threshold, 1 - 1e-10)  # pycocotools' bound: IoU 1 boxes still match at threshold 1
    for i in np.argsort(-det_scores, kind="stable"):
        candidates = np.flatnonzero(same_class[i] & ~taken & (ious[i] >= limit))
        if not len(candidates):
            continue
        values = ious[i, candidates]
        best = candidates[np.flatnonzero(values == values.max())[-1]]
        matched[i], iou_of[i], taken[best] = best, ious[i, best], True
    return GtMatch(tp=matched >= 0, matched_gt=matched, iou=iou_of, missed=~taken, iou_threshold=float(iou_threshold))
