"""Per-image numbers of a dataset evaluation: TP / FP / FN at a score threshold, AP, worst error type.

All from one class matching (:func:`.matching.match_by_class`) of every detection, so a score
threshold is a mask and a ``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.coco_eval import RECALL_THRESHOLDS
from detviewer.evaluation.errors import ERROR_TYPES, MISSED
from detviewer.evaluation.matching import DatasetMatching

__all__ = ["ImagesTable", "images_table", "image_ap"]


@dataclass(frozen=True, eq=False)
class ImagesTable:
    """Per image (I,): tp, fp, fn int64 at the threshold; ap float64 (AP at the matching IoU over the
    image's classes with objects, COCO's 101-point interpolation; NaN without objects);
    worst_error int8: the most frequent error type (codes of ``errors.ERROR_TYPES``, TIDE's order
    on ties), -1 when the image has none; errors (I, 6) int64 the count of each type."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    ap: np.ndarray
    worst_error: np.ndarray
    errors: np.ndarray

    def worst_error_name(self, image: int) -> str:
        code = int(self.worst_error[image])
        return ERROR_TYPES[code] if code >= 0 else ""


def images_table(matching: DatasetMatching, det_img: np.ndarray, det_scores: np.ndarray, gt_img: np.ndarray,
                 num_images: int, score_threshold: float, ap: np.ndarray) -> ImagesTable:
    """The table at ``score > score_threshold``; ``ap`` (I,) from :func:`image_ap` (threshold-free)."""
    n = int(num_images)
    above = det_scores > score_threshold
    tp = np.bincount(det_img[above & (matching.det_gt >= 0)], minlength=n)
    fp_mask = above & (matching.det_gt < 0) & ~matching.det_ignored
    fp = np.bincount(det_img[fp_mask], minlength=n)
    missed = matching.gt_object & ~(matching.gt_score > score_threshold)
    fn = np.bincount(gt_img[missed], minlength=n)
    kinds = len(ERROR_TYPES)
    codes = np.r_[det_img[fp_mask] * kinds + matching.det_error[fp_mask], gt_img[missed] * kinds + MISSED]
    errors = np.bincount(codes.astype(np.int64), minlength=n * kinds).reshape(n, kinds)
    worst = np.where(errors.sum(axis=1) > 0, np.argmax(errors, axis=1), -1).astype(np.int8)
    return ImagesTable(tp=tp, fp=fp, fn=fn, ap=ap, worst_error=worst, errors=errors)


def image_ap(matching: DatasetMatching, det_img: np.ndarray, det_labels: np.ndarray, det_scores: np.ndarray,
             gt_img: np.ndarray, gt_labels: np.ndarray, num_images: int, num_classes: int) -> np.ndarray:
    """(I,) float64: per image, the mean over its classes with objects of COCO's 101-point AP of that
    class's detections on that image at the matching's IoU; NaN for an image without objects.

    The precision envelope is taken in one pass over all (image, class) groups (an offset per
    group), which rounds it to about 1e-10.
    """
    k = int(num_classes)
    objects = matching.gt_object
    group_gt = np.bincount(gt_img[objects] * k + gt_labels[objects], minlength=int(num_images) * k)
    counted = ~matching.det_ignored
    group = (det_img * k + det_labels)[counted]
    scores = det_scores[counted]
    tp = (matching.det_gt >= 0)[counted]
    has_gt = group_gt[group] > 0
    group, scores, tp = group[has_gt], scores[has_gt], tp[has_gt]
    with_gt = group_gt.reshape(int(num_images), k) > 0
    if not len(group):
        return np.where(with_gt.any(axis=1), 0.0, np.nan)
    order = np.lexsort((-scores, group))
    group, tp = group[order], tp[order]
    starts = np.searchsorted(group, group, side="left")
    seen = np.arange(len(group)) - starts + 1
    tp_cum = np.cumsum(tp)
    tp_in = tp_cum - np.r_[0, tp_cum][starts]
    precision = tp_in / seen
    _, group_rank = np.unique(group, return_inverse=True)
    offset = 2.0 * (group_rank.max(initial=0) + 1 - group_rank)
    envelope = (np.maximum.accumulate((precision + offset)[::-1])[::-1] - offset)
    n_obj = group_gt[group]
    ap_sum = np.zeros(int(num_images) * k)
    # c-th true positive of a group reaches the recall points needing c TPs; c = 0 is reached at the top
    ap_sum += np.bincount(group[tp], _recall_weights(n_obj[tp], tp_in[tp]) * envelope[tp], minlength=ap_sum.size)
    first = np.r_[True, group[1:] != group[:-1]]
    ap_sum += np.bincount(group[first], _recall_weights(n_obj[first], np.zeros(int(first.sum()), np.int64))
                          * envelope[first], minlength=ap_sum.size)
    per_group = (ap_sum / len(RECALL_THRESHOLDS)).reshape(int(num_images), k)
    with np.errstate(invalid="ignore"):
        return np.where(with_gt.any(axis=1), (per_group * with_gt).sum(axis=1) / with_gt.sum(axis=1), np.nan)


def _recall_weights(n_objects: np.ndarray, n_true: np.ndarray) -> np.ndarray:
    """How many of the 101 recall points first need ``n_true`` true positives out of ``n_objects``
    objects (pycocotools' test tp / n >= r, in the same float division); arrays of one shape."""
    sizes = np.unique(n_objects)
    offsets = np.r_[0, np.cumsum(sizes + 1)]
    flat = np.zeros(int(offsets[-1]))
    for i, n in enumerate(sizes.tolist()):
        need = np.searchsorted(np.arange(n + 1) / n, RECALL_THRESHOLDS, side="left")
        flat[offsets[i]:offsets[i + 1]] = np.bincount(need, minlength=n + 1)[:n + 1]
    return flat[offsets[np.searchsorted(sizes, n_objects)] + n_true]
