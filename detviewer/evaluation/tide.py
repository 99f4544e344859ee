"""TIDE error breakdown (Bolya et al., ECCV 2020), vectorised, equal to the ``tidecv`` package.

``tidecv`` 1.0.1 (``quantify.TIDERun``) evaluates box detections at one foreground IoU ``pos``
(0.5) with a background IoU ``bg`` (0.1):

- per image, the ``max_dets`` (100) highest-scoring detections of all classes take part (ties in
  file order); in score order each takes the unmatched object of its class with the highest IoU
  (the first in file order on ties) if that IoU is >= pos; an unmatched detection whose IoU with a
  crowd region of its class (intersection / detection area) is > pos is ignored;
- every detection that is not a true positive (ignored ones too) gets one error type by the rule
  of :mod:`detviewer.evaluation.errors`; objects left unmatched are missed unless a cls / loc error
  points at them;
- AP per class is COCO's 101-point interpolation over that class's detections, 0 for a class with
  detections but no objects (unlike COCO, which leaves it out), averaged over the classes that
  have objects or detections, in AP points (x 100);
- fixing a type: a cls / loc error becomes a true positive (in the object's class) when it is the
  highest-scoring error pointing at a still unmatched object, otherwise it is removed; dupe, bkg
  and both errors are removed; a missed object is removed from the positives. Its dAP is the AP
  gained, floored at 0. FP dAP: every true positive scored 1, every false positive 0; FN dAP: every
  unmatched object removed from the positives (neither floored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.errors import BACKGROUND_IOU, CLS, ERROR_TYPES, LOC, MISSED, classify_overlaps
from detviewer.evaluation.pairs import best_per_detection, greedy_match, rank_in_group, same_image_pairs

__all__ = ["TideResult", "evaluate_tide", "TIDE_MAX_DETS"]

TIDE_MAX_DETS = 100
_RECALL_POINTS = np.array([x / 100 for x in range(101)])  # built as tidecv builds them


@dataclass(frozen=True, eq=False)
class TideResult:
    """TIDE at one IoU. ap: mAP in AP points (x 100); main_dap: type -> dAP for ERROR_TYPES;
    fp_dap / fn_dap: the special errors; counts: type -> number of errors.

    det (D,) int64: the detections taking part (indices into the results), by (image, -score);
    det_tp (D,) bool; det_ignored (D,) bool (on a crowd region); det_error (D,) int8 error code or -1;
    det_target (D,) int64: the object a cls / loc error points at (-1 otherwise);
    det_matched (D,) int64: the object a true positive took (-1 otherwise);
    gt_missed (N,) bool: objects counted as missed errors; gt_matched (N,) bool.
    """

    ap: float
    main_dap: dict[str, float]
    fp_dap: float
    fn_dap: float
    counts: dict[str, int]
    det: np.ndarray
    det_tp: np.ndarray
    det_ignored: np.ndarray
    det_error: np.ndarray
    det_target: np.ndarray
    det_matched: np.ndarray
    gt_missed: np.ndarray
    gt_matched: np.ndarray
    iou_threshold: float = 0.5
    background_iou: float = BACKGROUND_IOU


def evaluate_tide(gt: GroundTruthBoxes, dt: DetectionBoxes, num_categories: int, iou_threshold: float = 0.5,
                  background_iou: float = BACKGROUND_IOU, max_dets: int = TIDE_MAX_DETS) -> TideResult:
    """TIDE's main and special errors of ``dt`` against ``gt`` (indices into one image / category list)."""
    num_k = int(num_categories)
    det = _top_per_image(dt, max_dets)
    det_img, det_cls, det_score = dt.image_index[det], dt.category_index[det], dt.scores[det]
    objects = np.flatnonzero(~gt.crowd)
    pd, pg, piou = same_image_pairs(det_img, dt.xywh[det], gt, objects)
    same = det_cls[pd] == gt.category_index[pg]
    # det is sorted by (image, -score): within each (image, class) the greedy order is the score order
    rank = rank_in_group(det_img * (num_k + 1) + det_cls)
    matched = greedy_match(pd, pg, piou, same & (piou >= iou_threshold), rank, len(det), len(gt))
    tp, taken = matched >= 0, np.zeros(len(gt), bool)
    taken[matched[tp]] = True
    ignored = _on_crowd(det_img, det_cls, dt.xywh[det], gt, ~tp, iou_threshold)

    has_objects = np.bincount(gt.image_index[objects], minlength=int(det_img.max(initial=-1)) + 1)[det_img] > 0
    same_best, same_arg = best_per_detection(pd, pg, piou, same, len(det))
    other_best, other_arg = best_per_detection(pd, pg, piou, ~same, len(det))
    taken_best, _ = best_per_detection(pd, pg, piou, same & taken[pg], len(det))
    any_best, _ = best_per_detection(pd, pg, piou, np.ones_like(same), len(det))
    codes = classify_overlaps(same_best, other_best, taken_best, any_best, has_objects, iou_threshold,
                              background_iou)
    codes = np.where(tp, np.int8(-1), codes).astype(np.int8)
    target = np.where(codes == LOC, same_arg, np.where(codes == CLS, other_arg, -1))

    fixable, usable = _best_fixes(codes, target, det_score, taken)
    is_object = ~gt.crowd
    gt_missed = is_object & ~taken & ~usable
    n_gt = np.bincount(gt.category_index[is_object], minlength=num_k)[:num_k]

    seq = np.arange(len(det))
    scored = ~ignored
    by_score = np.lexsort((seq, -det_score))  # tidecv's order: images, then score order in each
    errors_first = np.lexsort((seq, tp, -det_score))  # a fix pushes error points first, then the TPs
    base = _mean_ap(by_score, scored, det_cls, tp, n_gt, num_k)
    main = {}
    for code, name in enumerate(ERROR_TYPES):
        main[name] = max(_fixed_ap(code, errors_first, codes, target, fixable, tp, ignored, det_cls, gt, gt_missed,
                                   n_gt, num_k) - base, 0.0)
    fp_ap = _mean_ap(np.argsort(~tp, kind="stable"), scored, det_cls, tp, n_gt, num_k)  # TPs scored 1, FPs 0
    fn_gt = n_gt - np.bincount(gt.category_index[is_object & ~taken], minlength=num_k)[:num_k]
    fn_ap = _mean_ap(errors_first, scored, det_cls, tp, fn_gt, num_k)
    counts = {name: int((codes == c).sum()) for c, name in enumerate(ERROR_TYPES) if c != MISSED}
    counts["missed"] = int(gt_missed.sum())
    return TideResult(ap=base, main_dap=main, fp_dap=fp_ap - base, fn_dap=fn_ap - base, counts=counts, det=det,
                      det_tp=tp, det_ignored=ignored, det_error=codes, det_target=target, det_matched=matched,
                      gt_missed=gt_missed, gt_matched=taken & is_object, iou_threshold=float(iou_threshold),
                      background_iou=float(background_iou))


def _top_per_image(dt: DetectionBoxes, max_dets: int) -> np.ndarray:
    """(D,) indices of the ``max_dets`` best detections of each image, sorted by (image, -score, file order)."""
    n = len(dt)
    order = np.lexsort((np.arange(n), -dt.scores, dt.image_index))
    img = dt.image_index[order]
    rank = np.arange(n) - np.searchsorted(img, img, side="left")
    return order[rank < max_dets]


def _on_crowd(det_img: np.ndarray, det_cls: np.ndarray, det_xywh: np.ndarray, gt: GroundTruthBoxes,
              candidates: np.ndarray, iou_threshold: float) -> np.ndarray:
    """(D,) bool: ``candidates`` overlapping a crowd region of their class by more than the threshold."""
    crowds = np.flatnonzero(gt.crowd)
    out = np.zeros(len(det_img), bool)
    if not crowds.size:
        return out
    pd, pg, iou = same_image_pairs(det_img, det_xywh, gt, crowds, crowd=True)
    hit = (det_cls[pd] == gt.category_index[pg]) & (iou > iou_threshold) & candidates[pd]
    out[pd[hit]] = True
    return out


def _best_fixes(codes: np.ndarray, target: np.ndarray, score: np.ndarray,
                taken: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tidecv's ``BestGTMatch``: which cls / loc errors a fix turns into true positives.

    Returns fixable (D,) bool (the highest-scoring error at an unmatched object, the earliest on
    ties) and usable (N,) bool (objects some cls / loc error points at while unmatched).
    """
    usable = np.zeros(taken.shape[0], bool)
    fixable = np.zeros(codes.shape[0], bool)
    aim = np.flatnonzero(((codes == CLS) | (codes == LOC)) & (target >= 0))
    aim = aim[~taken[target[aim]]]
    if aim.size:
        usable[target[aim]] = True
        aim = aim[np.lexsort((aim, -score[aim], target[aim]))]
        fixable[aim[np.r_[True, target[aim][1:] != target[aim][:-1]]]] = True
    return fixable, usable


def _fixed_ap(code: int, order: np.ndarray, codes: np.ndarray, target: np.ndarray, fixable: np.ndarray,
              tp: np.ndarray, ignored: np.ndarray, det_cls: np.ndarray, gt: GroundTruthBoxes, gt_missed: np.ndarray,
              n_gt: np.ndarray, num_k: int) -> float:
    """mAP after fixing every error of type ``code`` (tidecv ``fix_errors``), other errors as they are."""
    this = codes == code
    keep_original = (codes >= 0) & ~this & ~ignored
    promoted = this & fixable  # cls / loc: the best error at its object becomes a true positive
    cls = np.where(promoted & (codes == CLS), gt.category_index[np.maximum(target, 0)], det_cls)
    positives = n_gt
    if code == MISSED:
        positives = n_gt - np.bincount(gt.category_index[gt_missed], minlength=num_k)[:num_k]
    return _mean_ap(order, keep_original | promoted | tp, cls, tp | promoted, positives, num_k)


def _mean_ap(order: np.ndarray, keep: np.ndarray, cls: np.ndarray, truth: np.ndarray, n_gt: np.ndarray,
             num_k: int) -> float:
    """tidecv's ``ClassedAPDataObject.get_mAP`` x 100 over the points ``keep`` (D,) bool taken in ``order``
    (a permutation giving the score order with tidecv's ties); classes with objects or points count."""
    idx = order[keep[order]]
    key = cls[idx].astype(np.int16) if num_k < 1 << 15 else cls[idx]  # small ints: numpy's radix sort
    idx = idx[np.argsort(key, kind="stable")]
    aps, counted = _class_aps(cls[idx], truth[idx], n_gt, num_k)
    return float(np.mean(aps[counted])) if counted.any() else 0.0


def _class_aps(cls_s: np.ndarray, tp_s: np.ndarray, n_gt: np.ndarray, num_k: int) -> tuple[np.ndarray, np.ndarray]:
    """tidecv's ``APDataObject.get_ap`` x 100 per class (K,), and which classes count (K,) bool.

    cls_s / tp_s: the points grouped by class, in score order inside a class; 0 for a class with
    points but no positives.
    """
    bounds = np.searchsorted(cls_s, np.arange(num_k + 1))
    aps = np.zeros(num_k)
    counted = (np.diff(bounds) > 0) | (n_gt > 0)
    for k in np.flatnonzero(counted & (n_gt > 0) & (np.diff(bounds) > 0)):
        lo, hi = bounds[k], bounds[k + 1]
        true = np.cumsum(tp_s[lo:hi])
        precision = true / np.arange(1, hi - lo + 1)
        recall = true / n_gt[k]
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, _RECALL_POINTS, side="left")
        y = np.where(idx < hi - lo, envelope[np.minimum(idx, hi - lo - 1)], 0.0)
        aps[k] = float(np.sum(y)) / len(_RECALL_POINTS) * 100
    return aps, counted
