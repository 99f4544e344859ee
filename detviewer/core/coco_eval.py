"""Vectorised COCO bbox evaluation with pycocotools' exact semantics.

pycocotools (``COCOeval.evaluateImg`` / ``accumulate``) loops in Python over every
(image, category, area range) and, inside, over detections x thresholds x ground truths.
This module computes the same numbers - bit for bit, not approximately - with numpy:

1. Detections are ranked per (image, category) by descending score, ties in file order,
   and cut to the last maxDets (100).
2. IoUs are computed only for (detection, GT) pairs of the same image and category, with
   the arithmetic of pycocotools' C ``bbIou``; pairs below the lowest threshold (0.5) can
   never match and are dropped.
3. Greedy matching runs once per detection *rank*, for all (image, category) groups,
   area ranges and IoU thresholds at once (one detection per group per rank, so the
   groups never interfere).
4. Precision/recall are accumulated per category over all images; the 101-point
   interpolation is done by exact integer search on true-positive counts.

Conventions that matter for equality: a match needs IoU >= min(t, 1 - 1e-10); a GT may
match one detection unless it is a crowd; among candidates, non-ignored GTs win, then the
highest IoU, then the *later* GT in file order; a detection matched to a GT whose id is 0
counts as unmatched (pycocotools stores the id and tests it for truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.metrics import COCO_STAT_NAMES, CocoEvalResult, DetectionBoxes, GroundTruthBoxes, check_indices

__all__ = ["IOU_THRESHOLDS", "RECALL_THRESHOLDS", "MAX_DETS", "AREA_RANGES", "evaluate_coco", "evaluate_bbox",
           "bbox_iou_pairs", "CocoMatches", "match_detections"]

# Built exactly as pycocotools' Params.setDetParams builds them (the float values matter).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
_Hits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (area, threshold, detection, GT) index arrays
AREA_RANGES = (("all", 0 ** 2, 1e5 ** 2), ("small", 0 ** 2, 32 ** 2),
               ("medium", 32 ** 2, 96 ** 2), ("large", 96 ** 2, 1e5 ** 2))

# Upper bound on elements of one (rows, detections) block in the accumulation.
_BLOCK_ELEMENTS = 1 << 22


def bbox_iou_pairs(dt_xywh: np.ndarray, gt_xywh: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """IoU of paired boxes, as pycocotools' ``maskUtils.iou`` computes it for bboxes.

    dt_xywh, gt_xywh (P, 4) float64 xywh pixels; gt_crowd (P,) bool.
    Returns (P,) float64; for a crowd GT the union is the detection's own area.
    """
    dx, dy, dw, dh = dt_xywh.T
    gx, gy, gw, gh = gt_xywh.T
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    overlap = (w > 0) & (h > 0)
    inter = w * h
    da = dw * dh
    union = np.where(gt_crowd, da, da + gw * gh - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


@dataclass(frozen=True, eq=False)
class CocoMatches:
    """Greedy matching of ``COCOeval.evaluateImg`` for every area range and IoU threshold.

    det (D,) int64: indices into the detections taking part (the first ``max_dets`` of each
    (image, category) by score), sorted by (image, category, -score, file order);
    rank (D,) int64: each one's position within its (image, category) group;
    matched_gt (A, T, D) int32: the GT index each matched, or -1;
    det_ignore (A, T, D) bool: matched to an ignored GT (crowd, or outside the area range);
    gt_ignore (A, N) bool: GT ignored per area range.
    """

    det: np.ndarray
    rank: np.ndarray
    matched_gt: np.ndarray
    det_ignore: np.ndarray
    gt_ignore: np.ndarray


def match_detections(gt: GroundTruthBoxes, dt: DetectionBoxes, num_categories: int,
                     iou_thresholds: ArrayLike = IOU_THRESHOLDS, max_dets: int | None = MAX_DETS[-1],
                     area_ranges: Sequence[tuple[str, float, float]] = AREA_RANGES) -> CocoMatches:
    """Match detections to GT as pycocotools does, at each of ``iou_thresholds`` (T,).

    max_dets None keeps every detection (no per-(image, category) cut); area_ranges as
    :data:`AREA_RANGES` ((name, lo, hi) in squared pixels, bounds inclusive).
    """
    num_k = int(num_categories)
    iou_thresholds = np.asarray(iou_thresholds, np.float64).reshape(-1)
    thresholds = np.minimum(iou_thresholds, 1 - 1e-10)
    lo = np.array([r[1] for r in area_ranges], np.float64)[:, None]
    hi = np.array([r[2] for r in area_ranges], np.float64)[:, None]
    gt_ignore = gt.crowd[None, :] | (gt.area[None, :] < lo) | (gt.area[None, :] > hi)
    det, rank = _rank_detections(dt, num_k, max_dets)
    pair_det, pair_gt, pair_iou = _candidate_pairs(gt, dt, det, num_k, float(thresholds.min(initial=1.0)))
    matched_gt, det_ignore = _match(gt, gt_ignore, det, rank, pair_det, pair_gt, pair_iou, thresholds)
    return CocoMatches(det=det, rank=rank, matched_gt=matched_gt, det_ignore=det_ignore, gt_ignore=gt_ignore)


def evaluate_bbox(gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, num_categories: int,
                  matches: CocoMatches | None = None) -> CocoEvalResult:
    """See :func:`evaluate_coco` (which checks the indices); ``matches`` from :func:`match_detections`
    with the default arguments, when the caller has them already."""
    del num_images  # only the order of image indices matters
    num_k = int(num_categories)
    if matches is None:
        matches = match_detections(gt, dt, num_k)
    det, rank, matched_gt, gt_ignore = matches.det, matches.rank, matches.matched_gt, matches.gt_ignore
    lo = np.array([r[1] for r in AREA_RANGES], np.float64)[:, None]
    hi = np.array([r[2] for r in AREA_RANGES], np.float64)[:, None]

    # A match to GT id 0 is stored as 0 by pycocotools and then read as "unmatched".
    gt_id_nonzero = np.r_[gt.ids != 0, False]  # index -1 (no match) reads the False
    counted = gt_id_nonzero[matched_gt]
    det_area = dt.area[det]
    det_outside = (det_area[None, :] < lo) | (det_area[None, :] > hi)
    det_ignore = matches.det_ignore | (~counted & det_outside[:, None, :])

    npig = np.zeros((num_k, len(AREA_RANGES)), np.int64)
    for a in range(len(AREA_RANGES)):
        npig[:, a] = np.bincount(gt.category_index[~gt_ignore[a]], minlength=num_k)[:num_k]

    precision, recall = _accumulate(dt, det, rank, counted, det_ignore, npig, num_k)
    return CocoEvalResult(
        precision=precision,
        recall=recall,
        iou_thresholds=IOU_THRESHOLDS.copy(),
        recall_thresholds=RECALL_THRESHOLDS.copy(),
        area_ranges=AREA_RANGES,
        max_dets=MAX_DETS,
        stats=_summarize(precision, recall),
    )


def _rank_detections(dt: DetectionBoxes, num_k: int, max_dets: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Detections kept for evaluation, sorted by (image, category, -score, file order).

    Returns det (D,) int64 indices into ``dt`` and rank (D,) int64, the position of each
    within its (image, category) group; only ranks < max_dets are kept (all when None).
    """
    n = len(dt)
    group = dt.image_index * num_k + dt.category_index
    order = np.lexsort((np.arange(n), -dt.scores, group))
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.arange(n) - starts
    if max_dets is None:
        return order, rank
    keep = rank < max_dets
    return order[keep], rank[keep]


def _candidate_pairs(gt: GroundTruthBoxes, dt: DetectionBoxes, det: np.ndarray, num_k: int,
                     min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detection, GT) pairs of the same image and category with IoU >= min_iou.

    Returns pair_det (P,) positions into ``det``, pair_gt (P,) GT indices and
    pair_iou (P,) float64; sorted by detection position, then GT file order.
    """
    gt_group = gt.image_index * num_k + gt.category_index
    gt_order = np.argsort(gt_group, kind="stable")
    gt_sorted = gt_group[gt_order]
    det_group = dt.image_index[det] * num_k + dt.category_index[det]
    first = np.searchsorted(gt_sorted, det_group, side="left")
    counts = np.searchsorted(gt_sorted, det_group, side="right") - first
    total = int(counts.sum())
    pair_det = np.repeat(np.arange(det.shape[0]), counts)
    offsets = np.cumsum(counts) - counts
    pair_gt = gt_order[np.repeat(first - offsets, counts) + np.arange(total)]
    iou = bbox_iou_pairs(dt.xywh[det[pair_det]], gt.xywh[pair_gt], gt.crowd[pair_gt])
    keep = iou >= min_iou
    return pair_det[keep], pair_gt[keep], iou[keep]


def _match(gt: GroundTruthBoxes, gt_ignore: np.ndarray, det: np.ndarray, rank: np.ndarray, pair_det: np.ndarray,
           pair_gt: np.ndarray, pair_iou: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching of ``COCOeval.evaluateImg`` for all area ranges and thresholds.

    Returns matched_gt (A, T, D) int64 (GT index or -1) and det_ignore (A, T, D) bool
    (matched to an ignored GT).
    """
    num_a, num_t, num_d = gt_ignore.shape[0], thresholds.shape[0], det.shape[0]
    matched_gt = np.full((num_a, num_t, num_d), -1, np.int32)
    det_ignore = np.zeros((num_a, num_t, num_d), bool)
    gt_taken = np.zeros((num_a, num_t, len(gt)), bool)
    if pair_det.size == 0:
        return matched_gt, det_ignore
    pair_rank = rank[pair_det]
    by_rank = np.argsort(pair_rank, kind="stable")
    bounds = np.searchsorted(pair_rank[by_rank], np.arange(int(pair_rank.max()) + 2))
    thr = thresholds[None, :, None]
    for r in range(bounds.shape[0] - 1):
        sel = by_rank[bounds[r]:bounds[r + 1]]
        if sel.size == 0:
            continue
        # One detection per (image, category) group at this rank: runs of pairs, one per
        # detection. Most detections have a single candidate GT, which needs no search.
        pdet, pgt, piou = pair_det[sel], pair_gt[sel], pair_iou[sel]
        seg = np.flatnonzero(np.r_[True, pdet[1:] != pdet[:-1]])
        seg_len = np.diff(np.r_[seg, sel.size])
        multi = np.repeat(seg_len > 1, seg_len)
        hits = [_single_matches(gt, gt_taken, thr, pdet[~multi], pgt[~multi], piou[~multi])]
        if multi.any():
            hits.append(_best_matches(gt, gt_ignore, gt_taken, thr, pdet[multi], pgt[multi], piou[multi]))
        for a_hit, t_hit, d_hit, g_hit in hits:
            matched_gt[a_hit, t_hit, d_hit] = g_hit
            det_ignore[a_hit, t_hit, d_hit] = gt_ignore[a_hit, g_hit]
            gt_taken[a_hit, t_hit, g_hit] = True
    return matched_gt, det_ignore


def _single_matches(gt: GroundTruthBoxes, gt_taken: np.ndarray, thr: np.ndarray, pdet: np.ndarray, pgt: np.ndarray,
                    piou: np.ndarray) -> _Hits:
    """Matches of detections that have one candidate GT: (a, t, det, gt) index arrays."""
    ok = (~gt_taken[:, :, pgt] | gt.crowd[pgt]) & (piou >= thr)
    a_hit, t_hit, p_hit = np.nonzero(ok)
    return a_hit, t_hit, pdet[p_hit], pgt[p_hit]


def _best_matches(gt: GroundTruthBoxes, gt_ignore: np.ndarray, gt_taken: np.ndarray, thr: np.ndarray,
                  pdet: np.ndarray, pgt: np.ndarray, piou: np.ndarray) -> _Hits:
    """Matches of detections with several candidate GTs (runs of pairs per detection).

    Per (area, threshold, detection): among free GTs with IoU >= threshold, a non-ignored
    one before an ignored one, then the highest IoU, then the later GT in file order.
    """
    seg = np.flatnonzero(np.r_[True, pdet[1:] != pdet[:-1]])
    seg_len = np.diff(np.r_[seg, pdet.size])
    ok = (~gt_taken[:, :, pgt] | gt.crowd[pgt]) & (piou >= thr)
    prio = np.where(ok, np.where(gt_ignore[:, None, pgt], 1, 2), 0).astype(np.int8)
    best_prio = np.repeat(np.maximum.reduceat(prio, seg, axis=2), seg_len, axis=2)
    cand_iou = np.where(ok & (prio == best_prio), piou, -1.0)
    best_iou = np.repeat(np.maximum.reduceat(cand_iou, seg, axis=2), seg_len, axis=2)
    pos = np.where((cand_iou == best_iou) & (cand_iou >= 0), np.arange(pdet.size), -1)
    best = np.maximum.reduceat(pos, seg, axis=2)
    a_hit, t_hit, s_hit = np.nonzero(best >= 0)
    p_hit = best[a_hit, t_hit, s_hit]
    return a_hit, t_hit, pdet[p_hit], pgt[p_hit]


def _accumulate(dt: DetectionBoxes, det: np.ndarray, rank: np.ndarray, counted: np.ndarray, det_ignore: np.ndarray,
                npig: np.ndarray, num_k: int) -> tuple[np.ndarray, np.ndarray]:
    """``COCOeval.accumulate``: precision (T, R, K, A, M) and recall (T, K, A, M)."""
    num_a, num_t = det_ignore.shape[0], det_ignore.shape[1]
    num_r, num_m = RECALL_THRESHOLDS.shape[0], len(MAX_DETS)
    precision = -np.ones((num_t, num_r, num_k, num_a, num_m))
    recall = -np.ones((num_t, num_k, num_a, num_m))
    # pycocotools concatenates images in id order, each in score order, then sorts stably
    # by score: the order is (-score, image, rank) within a category.
    cat = dt.category_index[det]
    order = np.lexsort((rank, dt.image_index[det], -dt.scores[det], cat))
    cat_bounds = np.searchsorted(cat[order], np.arange(num_k + 1))
    live_all = ~det_ignore[:, :, order]                         # (A, T, D)
    counted_all = counted[:, :, order]
    rank_all = rank[order]
    max_dets = np.array(MAX_DETS)[:, None, None]
    for k in range(num_k):
        lo, hi = cat_bounds[k], cat_bounds[k + 1]
        for a in range(num_a):
            if npig[k, a] == 0:
                continue
            live = live_all[a, :, lo:hi]                         # (T, n)
            # Columns ignored at every threshold change nothing: drop them.
            cols = np.flatnonzero(live.any(axis=0))
            live, hit = live[:, cols], counted_all[a, :, lo:hi][:, cols]
            within = rank_all[lo:hi][cols][None, None, :] < max_dets  # (M, 1, n)
            tp_inc = within & (live & hit)[None]                 # (M, T, n)
            fp_inc = within & (live & ~hit)[None]
            prec_mt, rec_mt = _interpolate(tp_inc.reshape(num_m * num_t, -1),
                                           fp_inc.reshape(num_m * num_t, -1), int(npig[k, a]))
            precision[:, :, k, a, :] = prec_mt.reshape(num_m, num_t, num_r).transpose(1, 2, 0)
            recall[:, k, a, :] = rec_mt.reshape(num_m, num_t).T
    return precision, recall


def _interpolate(tp_inc: np.ndarray, fp_inc: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision at the recall thresholds, and final recall, per row.

    tp_inc, fp_inc (rows, n) bool in ranked order; ignored or cut detections are all-False
    columns, which repeat the previous (recall, precision) point and so change nothing.
    Returns (rows, R) and (rows,) float64.
    """
    rows, n = tp_inc.shape
    out = np.zeros((rows, RECALL_THRESHOLDS.shape[0]))
    if n == 0:
        return out, np.zeros(rows)
    # Threshold r is reached at the first TP count c with c / n_pos >= r (same division
    # as pycocotools' rc = tp / npig), so the search can run on exact integers.
    need = np.searchsorted(np.arange(n_pos + 1) / n_pos, RECALL_THRESHOLDS, side="left")
    final_recall = np.empty(rows)
    step = max(1, _BLOCK_ELEMENTS // n)
    for r0 in range(0, rows, step):
        tp = np.cumsum(tp_inc[r0:r0 + step], axis=1)
        fp = np.cumsum(fp_inc[r0:r0 + step], axis=1)
        tpf = tp.astype(np.float64)
        pr = tpf / (fp.astype(np.float64) + tpf + np.spacing(1))
        envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        final_recall[r0:r0 + step] = tpf[:, -1] / n_pos
        block = tp.shape[0]
        shift = (np.arange(block, dtype=np.int64) * (n_pos + 2))[:, None]
        pos = np.searchsorted((tp + shift).ravel(), (need[None, :] + shift).ravel(), side="left")
        pos = pos.reshape(block, -1) - np.arange(block)[:, None] * n
        hit = pos < n
        rows_idx = np.broadcast_to(np.arange(block)[:, None], pos.shape)
        out[r0:r0 + block] = np.where(hit, envelope[rows_idx, np.minimum(pos, n - 1)], 0.0)
    return out, final_recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """pycocotools' ``COCOeval.summarize()`` numbers (mean of entries > -1, else -1)."""

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    t50 = np.where(IOU_THRESHOLDS == 0.5)[0]
    t75 = np.where(IOU_THRESHOLDS == 0.75)[0]
    last = len(MAX_DETS) - 1
    values = [
        mean(precision[:, :, :, 0, last]),
        mean(precision[t50][:, :, :, 0, last]),
        mean(precision[t75][:, :, :, 0, last]),
        mean(precision[:, :, :, 1, last]),
        mean(precision[:, :, :, 2, last]),
        mean(precision[:, :, :, 3, last]),
        mean(recall[:, :, 0, 0]),
        mean(recall[:, :, 0, 1]),
        mean(recall[:, :, 0, 2]),
        mean(recall[:, :, 1, last]),
        mean(recall[:, :, 2, last]),
        mean(recall[:, :, 3, last]),
    ]
    return dict(zip(COCO_STAT_NAMES, values))


def evaluate_coco(gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, num_categories: int) -> CocoEvalResult:
    """COCO bbox evaluation equal to pycocotools' ``COCOeval(iouType="bbox")`` to the bit.

    All ``num_images`` images and ``num_categories`` categories take part, as
    pycocotools uses every image and category of the ground-truth file.
    """
    check_indices(gt, dt, num_images, num_categories)
    return evaluate_bbox(gt, dt, num_images, num_categories)
