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


_PAIR_BLOCK = 1 << 21  # pairs whose IoU is computed at once (bounds the (P, 4) temporaries)


def same_image_pairs(det_img: np.ndarray, det_xywh: np.ndarray, gt: GroundTruthBoxes, boxes: np.ndarray,
                     crowd: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The overlapping (detection, GT box) pairs of the same image, for the GT ``boxes`` (indices).

    det_img (D,) int64; det_xywh (D, 4) float64 pixels. crowd: IoU as for a crowd region
    (intersection / detection area). Pairs with IoU 0 are left out (every use treats a missing pair
    as IoU 0). Returns pd (P,) detection positions (ascending), pg (P,) GT indices (ascending file
    order per detection) and iou (P,) float64, pycocotools' arithmetic.
    """
    box_img = gt.image_index[boxes]
    by_img = boxes[np.argsort(box_img, kind="stable")]
    sorted_img = gt.image_index[by_img]
    first = np.searchsorted(sorted_img, det_img, side="left")
    counts = np.searchsorted(sorted_img, det_img, side="right") - first
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    out_d, out_g, out_iou = [], [], []
    for lo in range(0, max(len(det_img), 1), max(1, _PAIR_BLOCK // max(int(counts.max(initial=1)), 1))):
        hi = min(lo + max(1, _PAIR_BLOCK // max(int(counts.max(initial=1)), 1)), len(det_img))
        c = counts[lo:hi]
        n = int(c.sum())
        if n == 0:
            continue
        pd = np.repeat(np.arange(lo, hi), c)
        pg = by_img[np.repeat(first[lo:hi] - (offsets[lo:hi] - offsets[lo]), c) + np.arange(n)]
        iou = bbox_iou_pairs(det_xywh[pd], gt.xywh[pg], np.full(n, crowd))
        keep = iou > 0
        out_d.append(pd[keep])
        out_g.append(pg[keep])
        out_iou.append(iou[keep])
    del total
    if not out_d:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_iou)


def _first_best(d: np.ndarray, g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of equal ``d`` (grouped, ``g`` ascending inside a run): the start of each run and the
    position of its highest ``v`` (the first one on ties)."""
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    best = np.maximum.reduceat(v, starts)
    pos = np.where(v == np.repeat(best, np.diff(np.r_[starts, len(d)])), np.arange(len(d)), len(d))
    return starts, np.minimum.reduceat(pos, starts)


def best_per_detection(pd: np.ndarray, pg: np.ndarray, piou: np.ndarray, mask: np.ndarray,
                       num_det: int) -> tuple[np.ndarray, np.ndarray]:
    """Per detection, the highest IoU among the masked pairs (0 where none) and its GT index
    (the first in file order on ties; -1 where none): (D,) float64, (D,) int64."""
    best = np.zeros(num_det)
    arg = np.full(num_det, -1, np.int64)
    sel = np.flatnonzero(mask)
    if sel.size:
        d, g, v = pd[sel], pg[sel], piou[sel]
        starts, first = _first_best(d, g, v)
        best[d[starts]] = v[first]
        arg[d[starts]] = g[first]
    return best, arg


def rank_in_group(group: np.ndarray) -> np.ndarray:
    """(D,) position of each detection within its group, keeping the given order inside a group."""
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    rank = np.empty(len(group), np.int64)
    rank[by_group] = np.arange(len(group)) - np.searchsorted(sorted_group, sorted_group, side="left")
    return rank


def greedy_match(pd: np.ndarray, pg: np.ndarray, piou: np.ndarray, candidate: np.ndarray, rank: np.ndarray,
                 num_det: int, num_gt: int) -> np.ndarray:
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
    cand = cand[np.argsort(rank[pd[cand]], kind="stable")]  # stable: pairs stay grouped by detection
    bounds = np.searchsorted(rank[pd[cand]], np.arange(int(rank.max()) + 2))
    for r in range(len(bounds) - 1):
        sel = cand[bounds[r]:bounds[r + 1]]
        sel = sel[~taken[pg[sel]]]
        if not sel.size:
            continue
        starts, first = _first_best(pd[sel], pg[sel], piou[sel])
        matched[pd[sel][starts]] = pg[sel][first]
        taken[pg[sel][first]] = True
    return matched
