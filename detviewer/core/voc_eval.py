"""PASCAL VOC average precision (the devkit's ``voc_eval`` / ``voc_ap``), vectorised.

Rules, as in the VOC devkit (py-faster-rcnn's ``voc_eval.py``):

- Detections of a class are taken in descending score order over all images (ties in
  results-file order; the devkit's unstable argsort leaves them unspecified).
- Each detection looks only at its *best-overlapping* GT of the same image and class
  (first one on ties), difficult or not, matched or not. Overlap > threshold (strict) and
  the GT is difficult: the detection is ignored (neither TP nor FP). Overlap > threshold
  and the GT is still free: TP, and the GT is taken. Anything else: FP.
- Recall = TP / number of non-difficult GTs; precision = TP / max(TP + FP, eps).
- AP is the 11-point interpolation (VOC2007) or the area under the monotone precision
  envelope (VOC2010+).

Coordinates are continuous (COCO ``xywh``), so areas have no ``+ 1`` pixel.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes, VocEvalResult, check_indices

__all__ = ["evaluate_voc", "evaluate_voc_ap", "voc_ap"]


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool = False) -> float:
    """AP from a precision/recall curve (n,) float64 in descending-score order.

    use_07_metric: mean of the best precision at recall >= 0, 0.1, ..., 1 (11 points);
    otherwise the area under the precision envelope, summed where recall changes.
    """
    recall = np.asarray(recall, np.float64)
    precision = np.asarray(precision, np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            reached = recall >= t
            ap += (float(np.max(precision[reached])) if reached.any() else 0.0) / 11.0
        return ap
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def _iou_voc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of paired xywh boxes (P, 4) float64, continuous coordinates; 0 for empty unions."""
    w = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0)
    h = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0)
    inter = w * h
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _best_gt(gt: GroundTruthBoxes, dt: DetectionBoxes, num_k: int) -> tuple[np.ndarray, np.ndarray]:
    """For every detection: its best-overlapping GT of the same image and class.

    Returns best (N,) int64 GT index (-1 when the image has no GT of that class) and
    overlap (N,) float64 (-inf when none), the first GT in file order winning ties.
    """
    n = len(dt)
    best = np.full(n, -1, np.int64)
    overlap = np.full(n, -np.inf)
    gt_group = gt.image_index * num_k + gt.category_index
    gt_order = np.argsort(gt_group, kind="stable")
    gt_sorted = gt_group[gt_order]
    group = dt.image_index * num_k + dt.category_index
    first = np.searchsorted(gt_sorted, group, side="left")
    counts = np.searchsorted(gt_sorted, group, side="right") - first
    total = int(counts.sum())
    if total == 0:
        return best, overlap
    pair_det = np.repeat(np.arange(n), counts)
    offsets = np.cumsum(counts) - counts
    pair_gt = gt_order[np.repeat(first - offsets, counts) + np.arange(total)]
    iou = _iou_voc(dt.xywh[pair_det], gt.xywh[pair_gt])
    starts = offsets[counts > 0]
    seg_max = np.maximum.reduceat(iou, starts)
    has = np.flatnonzero(counts > 0)
    is_max = iou == np.repeat(seg_max, counts[has])
    # first maximum of each segment: the smallest pair position holding the maximum
    pos = np.where(is_max, np.arange(total), total)
    first_max = np.minimum.reduceat(pos, starts)
    best[has] = pair_gt[first_max]
    overlap[has] = seg_max
    return best, overlap


def evaluate_voc_ap(gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, num_categories: int,
                    *, use_07_metric: bool = False, iou_threshold: float = 0.5) -> VocEvalResult:
    """See :func:`evaluate_voc`."""
    del num_images  # only the image indices matter; evaluate_voc checks them
    num_k = int(num_categories)
    best, overlap = _best_gt(gt, dt, num_k)
    hit = overlap > iou_threshold
    best_difficult = np.r_[gt.difficult, False][best]  # index -1 (no GT) reads the False
    ignored = hit & best_difficult
    candidate = hit & ~best_difficult

    # Global order: category, then descending score, ties in file order.
    order = np.lexsort((np.arange(len(dt)), -dt.scores, dt.category_index))
    position = np.empty(len(dt), np.int64)
    position[order] = np.arange(len(dt))
    # Among candidates aiming at the same GT, only the earliest in that order is a TP.
    cand = np.flatnonzero(candidate)
    by_gt = cand[np.lexsort((position[cand], best[cand]))]
    first_of_gt = np.r_[True, best[by_gt][1:] != best[by_gt][:-1]] if by_gt.size else np.zeros(0, bool)
    tp = np.zeros(len(dt), bool)
    tp[by_gt[first_of_gt]] = True
    fp = ~tp & ~ignored

    npos = np.bincount(gt.category_index[~gt.difficult], minlength=num_k)[:num_k]
    cat_sorted = dt.category_index[order]
    bounds = np.searchsorted(cat_sorted, np.arange(num_k + 1))
    ap = np.full(num_k, -1.0)
    precisions, recalls = [], []
    for k in range(num_k):
        idx = order[bounds[k]:bounds[k + 1]]
        if npos[k] == 0:
            precisions.append(np.zeros(0))
            recalls.append(np.zeros(0))
            continue
        tp_cum = np.cumsum(tp[idx]).astype(np.float64)
        fp_cum = np.cumsum(fp[idx]).astype(np.float64)
        rec = tp_cum / float(npos[k])
        prec = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
        ap[k] = voc_ap(rec, prec, use_07_metric)
        precisions.append(prec)
        recalls.append(rec)
    valid = ap[ap > -1]
    return VocEvalResult(
        ap=ap,
        mean_ap=float(np.mean(valid)) if valid.size else -1.0,
        metric="voc07" if use_07_metric else "voc",
        iou_threshold=float(iou_threshold),
        precision=tuple(precisions),
        recall=tuple(recalls),
    )


def evaluate_voc(gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, num_categories: int,
                 *, use_07_metric: bool = False, iou_threshold: float = 0.5) -> VocEvalResult:
    """PASCAL VOC AP per category (devkit rules, continuous coordinates without the +1).

    use_07_metric: 11-point interpolated AP (VOC2007) instead of the all-point area (VOC2010+).
    """
    check_indices(gt, dt, num_images, num_categories)
    return evaluate_voc_ap(gt, dt, num_images, num_categories, use_07_metric=use_07_metric,
                           iou_threshold=iou_threshold)
