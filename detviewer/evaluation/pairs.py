"""Flat (detection, ground truth) pairs of the same image, and greedy matching over them, for all images at once.

Detections are given as positions 0..D-1 whose images are ``det_img`` (D,); ground-truth boxes as
indices into a :class:`~detviewer.core.metrics.GroundTruthBoxes`. Matching runs rank by rank (the
best-scoring detection of every group first, then the second ...), so that one numpy pass serves
every image: groups never share a ground-truth box, so they never interfere.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.coco_eval import bbox_iou_pairs
from detviewer.core.metrics import GroundTruthBoxes

__all__ = ["same_image_pairs", "best_per_detection", "rank_in_group", "greedy_match"]


def same_image_pairs(det_img: np.ndarray, det_xywh: np.ndarray, gt: GroundTruthBoxes, boxes: np.ndarray,
                     crowd: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (detection, GT box) pair of the same image, for the GT ``boxes`` (indices).

    det_img (D,) int64; det_xywh (D, 4) float64 pixels. crowd: IoU as for a crowd region
    (intersection / detection area). Returns pd (P,) detection positions, pg (P,) GT indices
    (ascending file order per detection) and iou (P,) float64, pycocotools' arithmetic.
    """
    box_img = gt.image_index[boxes]
    by_img = boxes[np.argsort(box_img, kind="stable")]
    sorted_img = gt.image_index[by_img]
    first = np.searchsorted(sorted_img, det_img, side="left")
    counts = np.searchsorted(sorted_img, det_img, side="right") - first
    total = int(counts.sum())
    pd = np.repeat(np.arange(len(det_img)), counts)
    offsets = np.cumsum(counts) - counts
    pg = by_img[np.repeat(first - offsets, counts) + np.arange(total)]
    iou = bbox_iou_pairs(det_xywh[pd], gt.xywh[pg], np.full(total, crowd))
    return pd, pg, iou


def best_per_detection(pd, pg, piou, mask, num_det: int) -> tuple[np.ndarray, np.ndarray]:
    """Per detection, the highest IoU among the masked pairs (0 where none) and its GT index
    (the first in file order on ties; -1 where none): (D,) float64, (D,) int64."""
    best = np.zeros(num_det)
    arg = np.full(num_det, -1, np.int64)
    sel = np.flatnonzero(mask)
    if sel.size:
        sel = sel[np.lexsort((pg[sel], -piou[sel], pd[sel]))]
        first = sel[np.r_[True, pd[sel][1:] != pd[sel][:-1]]]
        best[pd[first]] = piou[first]
        arg[pd[first]] = pg[first]
    return best, arg


def rank_in_group(group: np.ndarray) -> np.ndarray:
    """(D,) position of each detection within its group, keeping the given order inside a group."""
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    rank = np.empty(len(group), np.int64)
    rank[by_group] = np.arange(len(group)) - np.searchsorted(sorted_group, sorted_group, side="left")
    return rank


def greedy_match(pd, pg, piou, candidate, rank, num_det: int, num_gt: int) -> np.ndarray:
    """Greedy one-to-one matching: by ``rank``, each detection takes, among its ``candidate`` pairs
    whose GT is still free, the one with the highest IoU (the first GT in file order on ties).

    rank (D,): position within the detection's group in processing order (see rank_in_group); two
    detections of one rank must never share a candidate GT. Returns (D,) int64 GT index or -1.
    """
    matched = np.full(num_det, -1, np.int64)
    taken = np.zeros(num_gt, bool)
    cand = np.flatnonzero(candidate)
    if not cand.size:
        return matched
    cand = cand[np.argsort(rank[pd[cand]], kind="stable")]
    bounds = np.searchsorted(rank[pd[cand]], np.arange(int(rank.max()) + 2))
    for r in range(len(bounds) - 1):
        sel = cand[bounds[r]:bounds[r + 1]]
        sel = sel[~taken[pg[sel]]]
        if not sel.size:
            continue
        sel = sel[np.lexsort((pg[sel], -piou[sel], pd[sel]))]
        first = sel[np.r_[True, pd[sel][1:] != pd[sel][:-1]]]
        matched[pd[first]] = pg[first]
        taken[pg[first]] = True
    return matched
