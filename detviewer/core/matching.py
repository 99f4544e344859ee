"""One image's detections matched to its ground truth: true positives, false positives, missed objects.

The matching is COCO's (pycocotools ``evaluateImg`` at one IoU threshold, all areas, no detection
limit): detections in order of decreasing score each take, among the not yet matched ground-truth
boxes of their class, the one with the highest IoU if that IoU reaches the threshold (on a tie the
later box in ground-truth order wins, as in pycocotools). Crowd regions (``iscrowd``) are matched
only when no ordinary box is, any number of times, with IoU = intersection / detection area; a
detection on a crowd region is ignored (neither true nor false positive) and a crowd region is never
missed. What is left unmatched is a false positive (detection) or a miss (ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.coco_eval import bbox_iou_pairs

__all__ = ["GtMatch", "match_to_ground_truth", "iou_matrix"]


@dataclass(frozen=True, eq=False)
class GtMatch:
    """tp (D,) bool; ignored (D,) bool detections on a crowd region; matched_gt (D,) int64 GT index or
    -1; iou (D,) float32 IoU with the matched box (0 when unmatched); missed (M,) bool ordinary GT
    boxes no detection matched; ious (D, M) float64 every detection's IoU with every GT box (crowd
    columns: intersection / detection area); iou_threshold."""

    tp: np.ndarray
    ignored: np.ndarray
    matched_gt: np.ndarray
    iou: np.ndarray
    missed: np.ndarray
    ious: np.ndarray
    iou_threshold: float

    @property
    def fp(self) -> np.ndarray:
        """(D,) bool: detections that are neither matched nor on a crowd region."""
        fp: np.ndarray = ~self.tp & ~self.ignored
        return fp

    @property
    def counts(self) -> tuple[int, int, int]:
        """(true positives, false positives, missed ground truth)."""
        return int(self.tp.sum()), int(self.fp.sum()), int(self.missed.sum())

    def summary(self) -> str:
        tp, fp, fn = self.counts
        return f"TP {tp} · FP {fp} · missed {fn} at IoU ≥ {self.iou_threshold:g}"


def iou_matrix(a: ArrayLike, b: ArrayLike, b_crowd: ArrayLike | None = None) -> np.ndarray:
    """IoU (len(a), len(b)) of xyxy boxes, float64, as pycocotools computes it (``coco_eval.bbox_iou_pairs``):
    for crowd columns (``b_crowd``) the union is the area of the box of ``a``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    crowd = np.zeros(len(b), bool) if b_crowd is None else np.asarray(b_crowd, bool).reshape(-1)
    a_xywh = np.concatenate([a[:, :2], a[:, 2:] - a[:, :2]], axis=1)
    b_xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    pairs = bbox_iou_pairs(np.repeat(a_xywh, len(b), axis=0), np.tile(b_xywh, (len(a), 1)), np.tile(crowd, len(a)))
    return pairs.reshape(len(a), len(b))


def match_to_ground_truth(det_xyxy: ArrayLike, det_scores: ArrayLike, det_labels: ArrayLike, gt_xyxy: ArrayLike,
                          gt_labels: ArrayLike, iou_threshold: float = 0.5, gt_crowd: ArrayLike | None = None) -> GtMatch:
    """Match detections (D, 4) xyxy / (D,) scores / (D,) labels to ground truth (M, 4) / (M,) labels.

    Boxes in the same pixels, labels in the same label space (a detection only matches its class);
    gt_crowd (M,) bool marks crowd regions (None: none).
    """
    det_xyxy = np.asarray(det_xyxy, np.float64).reshape(-1, 4)
    gt_xyxy = np.asarray(gt_xyxy, np.float64).reshape(-1, 4)
    det_scores = np.asarray(det_scores, np.float64).reshape(-1)
    det_labels = np.asarray(det_labels, np.int64).reshape(-1)
    gt_labels = np.asarray(gt_labels, np.int64).reshape(-1)
    crowd = np.zeros(len(gt_xyxy), bool) if gt_crowd is None else np.asarray(gt_crowd, bool).reshape(-1)
    if not (len(det_xyxy) == len(det_scores) == len(det_labels)) or not (len(gt_xyxy) == len(gt_labels) == len(crowd)):
        raise ValueError("boxes, scores, labels and crowd flags must have the same length")
    d = len(det_xyxy)
    matched = np.full(d, -1, np.int64)
    ignored = np.zeros(d, bool)
    iou_of = np.zeros(d, np.float32)
    taken = np.zeros(len(gt_xyxy), bool)
    ious = iou_matrix(det_xyxy, gt_xyxy, crowd)
    same_class = det_labels[:, None] == gt_labels[None, :]
    limit = min(iou_threshold, 1 - 1e-10)  # pycocotools' bound: IoU 1 boxes still match at threshold 1
    for i in np.argsort(-det_scores, kind="stable"):
        ok = same_class[i] & (~taken | crowd) & (ious[i] >= limit)
        # ordinary boxes first; a crowd region only when no ordinary box qualifies
        candidates = np.flatnonzero(ok & ~crowd)
        if not len(candidates):
            candidates = np.flatnonzero(ok & crowd)
        if not len(candidates):
            continue
        values = ious[i, candidates]
        best = candidates[np.flatnonzero(values == values.max())[-1]]
        iou_of[i] = ious[i, best]
        if crowd[best]:
            ignored[i] = True
        else:
            matched[i], taken[best] = best, True
    return GtMatch(tp=matched >= 0, ignored=ignored, matched_gt=matched, iou=iou_of, missed=~taken & ~crowd,
                   ious=ious, iou_threshold=float(iou_threshold))
