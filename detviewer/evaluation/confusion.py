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

__all__ = ["ConfusionMatrix", "confusion_matrix", "confusion_cell", "DENSE_LIMIT"]

#: ``counts`` / ``normalized()`` without a class selection are dense only up to this many rows (K + 1): 8 MB.
#: Beyond it (a dataset may name up to io.limits.MAX_CLASSES classes) ask for the rows and columns you show.
DENSE_LIMIT = 1024


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """The non-zero cells of the (K + 1, K + 1) matrix indexed [predicted, true]; index K is background.

    predicted, true, values: (C,) int64, one entry per non-zero cell (C <= detections + objects), ascending
    by (predicted, true). Memory grows with the cells, not with K²: ``dense(classes)`` gives the block of
    the classes shown, ``counts`` the whole matrix where K + 1 <= DENSE_LIMIT. ``normalized()`` divides each
    column by its sum (Ultralytics' ``normalize=True``: the share of each true class, background column
    included, that went to each predicted class).
    """

    num_classes: int
    predicted: np.ndarray
    true: np.ndarray
    values: np.ndarray
    score_threshold: float
    iou_threshold: float

    @property
    def counts(self) -> np.ndarray:
        """(K + 1, K + 1) int64, dense; ValueError beyond DENSE_LIMIT rows (use ``dense(classes)``)."""
        return self.dense()

    def _classes(self, classes) -> np.ndarray:
        if classes is None:
            if self.num_classes + 1 > DENSE_LIMIT:
                raise ValueError(f"a dense confusion matrix of {self.num_classes} classes would hold "
                                 f"{(self.num_classes + 1) ** 2:,} cells; pass the classes to show")
            return np.arange(self.num_classes + 1)
        return np.asarray(classes, np.int64).reshape(-1)

    def dense(self, classes=None) -> np.ndarray:
        """(n, n) int64: the rows and columns of ``classes`` (indices 0..K, K = background), in that order."""
        classes = self._classes(classes)
        position = np.full(self.num_classes + 1, -1, np.int64)
        position[classes] = np.arange(classes.shape[0])
        rows, cols = position[self.predicted], position[self.true]
        keep = (rows >= 0) & (cols >= 0)
        out = np.zeros((classes.shape[0], classes.shape[0]), np.int64)
        out[rows[keep], cols[keep]] = self.values[keep]
        return out

    def column_totals(self) -> np.ndarray:
        """(K + 1,) int64: the sum of each true-class column over every predicted class."""
        return np.bincount(self.true, weights=self.values, minlength=self.num_classes + 1).astype(np.int64)

    def normalized(self, classes=None) -> np.ndarray:
        """(n, n) float64 block of ``classes`` (all: K + 1), each column divided by its whole column's sum."""
        classes = self._classes(classes)
        total = self.column_totals()[classes][None, :].astype(np.float64)
        counts = self.dense(classes)
        return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)

    def busiest(self, n: int) -> np.ndarray:
        """Up to ``n`` classes with counts, the most in their row and column first, ascending; then background K."""
        k = self.num_classes
        weight = np.bincount(self.predicted, weights=self.values, minlength=k + 1)
        weight += np.bincount(self.true, weights=self.values, minlength=k + 1)
        order = np.argsort(-weight[:k], kind="stable")[:n]
        order = order[weight[order] > 0]
        return np.r_[np.sort(order), k].astype(np.int64)


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
    pred = np.r_[det_labels[hit], det_labels[fp], np.full(int(missed.sum()), k)].astype(np.int64)
    true = np.r_[gt_labels[matching.det_gt[hit]], np.full(int(fp.sum()), k), gt_labels[missed]].astype(np.int64)
    cells, values = np.unique(pred * (k + 1) + true, return_counts=True)
    return ConfusionMatrix(k, cells // (k + 1), cells % (k + 1), values.astype(np.int64), float(score_threshold),
                           matching.iou_threshold)


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
