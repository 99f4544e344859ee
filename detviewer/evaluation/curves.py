"""Curves of a dataset evaluation: COCO precision-recall, and precision / recall / F1 against confidence.

- PR curves are pycocotools' interpolated precision at its 101 recall points (``COCOeval.eval
  ["precision"]``, area "all", 100 detections per image), per class, at IoU 0.5 and averaged over
  IoU 0.5:0.95, so they integrate to the COCO table's AP50 and AP.
- P / R / F1 against confidence use one matching at one IoU (:func:`.matching.match_by_class`):
  at confidence c the detections scoring > c count, exactly (no interpolation), on a grid of
  confidences. The "all classes" curve is the mean over classes with ground truth, and the
  suggested threshold is the one with the best mean F1, as Ultralytics' ``ap_per_class`` picks it
  (without its box-filter smoothing of the F1 curve).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.metrics import CocoEvalResult

__all__ = ["PRCurves", "ConfidenceCurves", "pr_curves", "confidence_curves", "CONFIDENCE_GRID"]

#: Confidences at which P / R / F1 are computed: 0, 0.001, ..., 1.
CONFIDENCE_GRID = np.linspace(0.0, 1.0, 1001)


@dataclass(frozen=True, eq=False)
class PRCurves:
    """recall (R,) the 101 recall points; precision_50 / precision_50_95 (K, R) float64, -1 for a
    class without ground truth (as pycocotools)."""

    recall: np.ndarray
    precision_50: np.ndarray
    precision_50_95: np.ndarray


def pr_curves(coco: CocoEvalResult) -> PRCurves:
    """Per-class COCO PR curves (101-point interpolation) at IoU 0.5 and over 0.5:0.95."""
    p = coco.precision[:, :, :, 0, -1]  # (T, R, K): area all, maxDets 100
    t50 = int(np.flatnonzero(np.isclose(coco.iou_thresholds, 0.5))[0])
    p50 = p[t50].T.copy()
    mean = np.where((p > -1).all(axis=0), p.mean(axis=0), -1.0).T
    return PRCurves(recall=coco.recall_thresholds.copy(), precision_50=p50, precision_50_95=mean)


@dataclass(frozen=True, eq=False)
class ConfidenceCurves:
    """Precision, recall and F1 against confidence at one IoU.

    confidence (C,) grid; precision / recall / f1 (K, C) float64 per class (precision 1 where no
    detection scores above c, as nothing claimed is wrong; recall 0 and -1 rows for classes
    without ground truth); mean_* (C,) over classes with ground truth; best_threshold: the grid
    confidence with the best mean F1.
    """

    confidence: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    mean_precision: np.ndarray
    mean_recall: np.ndarray
    mean_f1: np.ndarray
    best_threshold: float
    iou_threshold: float

    def at(self, score_threshold: float) -> tuple[float, float, float]:
        """(mean precision, mean recall, mean F1) at the grid point nearest to a threshold."""
        i = int(np.argmin(np.abs(self.confidence - score_threshold)))
        return float(self.mean_precision[i]), float(self.mean_recall[i]), float(self.mean_f1[i])


def confidence_curves(det_labels: np.ndarray, det_scores: np.ndarray, det_tp: np.ndarray, det_counted: np.ndarray,
                      gt_labels_of_objects: np.ndarray, num_classes: int, iou_threshold: float,
                      grid: np.ndarray = CONFIDENCE_GRID) -> ConfidenceCurves:
    """P / R / F1 (K, C) from one matching.

    det_labels / det_scores (D,); det_tp (D,) bool true positives; det_counted (D,) bool detections
    that count (not on a crowd region); gt_labels_of_objects (M,) classes of the objects.
    """
    k = int(num_classes)
    n_gt = np.bincount(np.asarray(gt_labels_of_objects, np.int64), minlength=k)[:k]
    labels = np.asarray(det_labels, np.int64)[det_counted]
    scores = np.asarray(det_scores, np.float64)[det_counted]
    tp = np.asarray(det_tp, bool)[det_counted]
    order = np.lexsort((-scores, labels))
    labels, scores, tp = labels[order], scores[order], tp[order]
    bounds = np.searchsorted(labels, np.arange(k + 1))
    tp_cum = np.r_[0, np.cumsum(tp)]
    precision = np.ones((k, grid.shape[0]))
    recall = np.zeros((k, grid.shape[0]))
    for c in range(k):
        lo, hi = bounds[c], bounds[c + 1]
        # detections of class c scoring > grid[j]: the first `above` of its (descending) run
        above = np.searchsorted(-scores[lo:hi], -grid, side="left")
        true = tp_cum[lo + above] - tp_cum[lo]
        precision[c] = np.where(above > 0, true / np.maximum(above, 1), 1.0)
        recall[c] = true / n_gt[c] if n_gt[c] else -1.0
    f1 = np.where(recall >= 0, 2 * precision * recall / np.maximum(precision + recall, 1e-16), -1.0)
    has_gt = n_gt > 0
    mean_p = precision[has_gt].mean(axis=0) if has_gt.any() else np.zeros(grid.shape[0])
    mean_r = recall[has_gt].mean(axis=0) if has_gt.any() else np.zeros(grid.shape[0])
    mean_f1 = f1[has_gt].mean(axis=0) if has_gt.any() else np.zeros(grid.shape[0])
    return ConfidenceCurves(confidence=grid.copy(), precision=precision, recall=recall, f1=f1,
                            mean_precision=mean_p, mean_recall=mean_r, mean_f1=mean_f1,
                            best_threshold=float(grid[int(np.argmax(mean_f1))]), iou_threshold=float(iou_threshold))
