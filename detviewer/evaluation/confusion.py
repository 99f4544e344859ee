"""Detection confusion matrix with a background row and column, as Ultralytics defines it.

Ultralytics 8.4 ``ultralytics.utils.metrics.ConfusionMatrix.process_batch`` (task "detect"):
``matrix[predicted, true]`` of shape (nc + 1, nc + 1), the last row and column being background.
Only detections with confidence > ``conf`` count. Matching is class-agnostic and greedy: in
falling confidence each detection takes the unclaimed object with the highest IoU > ``iou_thres``.
A matched pair adds 1 at [detected class, true class] (the diagonal: true positives; elsewhere a
confusion); an object nobody claimed adds 1 at [background, true class] (missed); a detection that
claimed nothing adds 1 at [detected class, background] (a false positive on background).
Ultralytics' defaults are conf 0.25, iou 0.45. Our additions: crowd regions are not objects, and a
detection on a crowd region of its class is left out (see :func:`.matching.match_any_class`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.evaluation.matching import DatasetMatching

__all__ = ["ConfusionMatrix", "confusion_matrix", "confusion_cell"]


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """counts (K + 1, K + 1) int64 indexed [predicted, true]; index K is background.

    ``normalized()`` divides each column by its sum (Ultralytics' ``normalize=True``: the share of
    each true class, background column included, that went to each predicted class).
    """

    counts: np.ndarray
    score_threshold: float
    iou_threshold: float

    @property
    def num_classes(self) -> int:
        return int(self.counts.shape[0]) - 1

    def normalized(self) -> np.ndarray:
        """(K + 1, K + 1) float64, columns summing to 1 (0 where a column is empty)."""
        total = self.counts.sum(axis=0, keepdims=True).astype(np.float64)
        return np.divide(self.counts, total, out=np.zeros(self.counts.shape), where=total > 0)


def confusion_matrix(matching: DatasetMatching, det_labels: np.ndarray, det_scores: np.ndarray,
                     gt_labels: np.ndarray, num_classes: int, score_threshold: float) -> ConfusionMatrix:
    """The matrix at ``score > score_threshold`` from a class-agnostic matching of all detections.

    det_labels / det_scores (D,) and gt_labels (N,) are category indices 0..K-1 and scores.
    """
    k = int(num_classes)
    above = det_scores > score_threshold
    hit = above & (matching.det_gt >= 0)
    fp = above & (matching.det_gt < 0) & ~matching.det_ignored
    missed = matching.gt_object & ~(matching.gt_score > score_threshold)
    pred = np.r_[det_labels[hit], det_labels[fp], np.full(int(missed.sum()), k)]
    true = np.r_[gt_labels[matching.det_gt[hit]], np.full(int(fp.sum()), k), gt_labels[missed]]
    counts = np.bincount(pred * (k + 1) + true, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    return ConfusionMatrix(counts.astype(np.int64), float(score_threshold), matching.iou_threshold)


def confusion_cell(matching: DatasetMatching, det_labels, det_scores, gt_labels, num_classes: int,
                   score_threshold: float, predicted: int, true: int) -> tuple[np.ndarray, np.ndarray]:
    """The boxes behind one cell: (detection indices (n,), GT indices (n,)), -1 where a side is background.

    A matched cell pairs each detection with its object; the background column lists detections
    (GT -1), the background row lists objects (detection -1).
    """
    k = int(num_classes)
    above = det_scores > score_threshold
    if predicted == k and true == k:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if predicted == k:
        gts = np.flatnonzero(matching.gt_object & ~(matching.gt_score > score_threshold) & (gt_labels == true))
        return np.full(len(gts), -1, np.int64), gts
    if true == k:
        dets = np.flatnonzero(above & (matching.det_gt < 0) & ~matching.det_ignored & (det_labels == predicted))
        return dets, np.full(len(dets), -1, np.int64)
    hit = above & (matching.det_gt >= 0) & (det_labels == predicted)
    dets = np.flatnonzero(hit)
    dets = dets[gt_labels[matching.det_gt[dets]] == true]
    return dets, matching.det_gt[dets]
