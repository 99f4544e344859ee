"""Non-maximum suppression recorded step by step (Qt-free).

``nms_trace`` replays greedy NMS exactly as ``torchvision.ops.batched_nms`` / ``nms`` run it
on the CPU and records, for every kept box, which boxes it suppressed and their IoU with it.
Soft-NMS (Bodla et al., 2017, linear and Gaussian decay) is recorded the same way.

Conventions (shared with torchvision's detection models):

* score filter: a box takes part when ``score > score_threshold`` (strictly greater, as in
  ``RoIHeads``, ``RetinaNet``, ``SSD`` and ``FCOS``: ``scores > self.score_thresh``), compared
  in the scores' precision as torch does (float32: a score of 0.1 does not pass 0.1);
* IoU has no +1 in widths; a box is suppressed when its IoU with a kept box is
  ``> iou_threshold`` (strictly greater);
* ties in score are processed in ascending input index, as torchvision's CPU kernel does
  (it sorts with ``stable=True``); the final ``keep`` order of ``batched_nms``' per-class path
  (> 1,000 boxes) comes from its own unstable ``sort`` and is returned unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
import torchvision

from detviewer.core.types import NMS_METHODS, GreedySteps, NMSStep, NMSTrace
from detviewer.ops.boxes import ArrayOrTensor, as_numpy

__all__ = ["nms_trace", "NMS_METHODS"]


# batched_nms runs one nms() per class above this many box coordinates on the CPU and
# otherwise shifts each class by an offset (torchvision/ops/boxes.py). The shifted boxes
# round differently, so the IoUs must be recomputed on the boxes nms() really saw.
_VANILLA_NUMEL = 4000
_PAIR_CHUNK = 1 << 21  # candidate pairs examined at once (bounds memory at ~100 MB)
_EMPTY_I = np.zeros(0, np.int64)
_EMPTY_F = np.zeros(0, np.float32)
_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x1, y1, x2, y2, area


def nms_trace(boxes: ArrayOrTensor, scores: ArrayOrTensor, labels: ArrayOrTensor | None = None, *, iou_threshold: float = 0.5, score_threshold: float = 0.0,
              class_agnostic: bool = False, method: str = "hard", sigma: float = 0.5,
              max_detections: int | None = None, record_steps: bool = True) -> NMSTrace:
    """Run NMS on ``boxes`` and record every step.

    boxes (N, 4) xyxy pixels, scores (N,), labels (N,) int: numpy arrays or torch tensors on
    any device (copied to the CPU). Computation runs in float64 when ``boxes`` is float64,
    otherwise in float32, like torchvision's kernel.
    labels=None or class_agnostic=True: one NMS over all boxes; otherwise boxes only suppress
    (or decay) boxes of their own label.
    method: "hard" (greedy NMS; ``keep`` equals ``torchvision.ops.batched_nms(boxes[f],
    scores[f], labels[f], iou_threshold)`` mapped through the filter ``f``, or ``nms`` when
    class-agnostic), "linear" (score *= 1 - IoU where IoU > iou_threshold) or "gaussian"
    (score *= exp(-IoU^2 / sigma)). With Soft-NMS a box whose decayed score is no longer
    ``> score_threshold`` is suppressed; ties in score go to the box earlier in ``order``;
    scores are expected to be >= 0 (decay must lower them).
    max_detections: keep only the first boxes (and steps), like ``keep[:detections_per_img]``.
    Greedy runs also give their steps as flat arrays (``NMSTrace.greedy``); ``record_steps=False`` leaves
    ``steps`` empty (a replay needs only the arrays: building thousands of NMSStep objects is a third of the run).
    """
    box, score, label = _inputs(boxes, scores, labels)
    _check_params(iou_threshold, score_threshold, method, sigma, max_detections)
    with np.errstate(over="ignore"):
        passed = np.flatnonzero(score > score.dtype.type(score_threshold))
    # numpy's stable argsort of -score = torch.sort(descending=True, stable=True): ties by index
    by_score = np.argsort(-score[passed], kind="stable")
    order = passed[by_score]
    agnostic = class_agnostic or label is None
    greedy = None
    if method == "hard":
        steps, keep, greedy = _hard_nms(box, score, label, passed, by_score, iou_threshold, agnostic, record_steps)
        final = score.astype(np.float32)
    else:
        steps, keep, final = _soft_nms(box, score, label, order, iou_threshold, score_threshold,
                                       agnostic, method, sigma)
    if max_detections is not None:
        keep, steps = keep[:max_detections], steps[:max_detections]
        greedy = greedy.head(max_detections) if greedy is not None else None
    return NMSTrace(order=order, steps=tuple(steps), keep=keep, scores=final, greedy=greedy,
                    iou_threshold=float(iou_threshold), score_threshold=float(score_threshold),
                    method=method, class_agnostic=bool(agnostic))


def _inputs(boxes: ArrayOrTensor, scores: ArrayOrTensor,
            labels: ArrayOrTensor | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """numpy copies on the CPU: boxes (N, 4) and scores (N,) float32 (float64 if boxes are), labels (N,) int64."""
    box = as_numpy(boxes)
    if box.dtype != np.float64:
        box = box.astype(np.float32)
    if box.size == 0:
        box = box.reshape(0, 4)
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {box.shape}")
    n = box.shape[0]
    score = as_numpy(scores).astype(box.dtype).reshape(-1)
    if score.shape[0] != n:
        raise ValueError(f"scores must have {n} entries to match the boxes, got {score.shape[0]}")
    if not (np.isfinite(box).all() and np.isfinite(score).all()):
        raise ValueError("boxes and scores must be finite (no NaN or infinity)")
    label = None
    if labels is not None:
        label = as_numpy(labels).astype(np.int64).reshape(-1)
        if label.shape[0] != n:
            raise ValueError(f"labels must have {n} entries to match the boxes, got {label.shape[0]}")
    return np.ascontiguousarray(box), np.ascontiguousarray(score), label


def _check_params(iou_threshold: float, score_threshold: float, method: str, sigma: float,
                  max_detections: int | None) -> None:
    if method not in NMS_METHODS:
        raise ValueError(f"NMS method must be one of {NMS_METHODS}, got {method!r}")
    if not iou_threshold >= 0.0:  # also rejects NaN
        raise ValueError(f"iou_threshold must be >= 0, got {iou_threshold}")
    if math.isnan(score_threshold):
        raise ValueError("score_threshold must be a number, got NaN")
    if method == "gaussian" and not sigma > 0.0:
        raise ValueError(f"Gaussian Soft-NMS needs sigma > 0, got {sigma}")
    if max_detections is not None and max_detections < 0:
        raise ValueError(f"max_detections must be >= 0 or None, got {max_detections}")


# -- greedy NMS ---------------------------------------------------------------------------------

def _hard_nms(box: np.ndarray, score: np.ndarray, label: np.ndarray | None, passed: np.ndarray, by_score: np.ndarray,
              iou_threshold: float, agnostic: bool,
              record_steps: bool = True) -> tuple[list[NMSStep], np.ndarray, GreedySteps]:
    """keep from torchvision itself; each suppressed box is then attributed to its suppressor.

    Greedy NMS suppresses box j at the first kept box before it (same class) with
    IoU > threshold, so knowing ``keep`` the whole trace follows from the kept-vs-suppressed
    pairs that overlap, found with a sweep instead of an O(N^2) loop.
    """
    boxes_f, scores_f = box[passed], score[passed]
    box_t, score_t = torch.from_numpy(boxes_f), torch.from_numpy(scores_f)
    geometry, groups = boxes_f, None
    if agnostic or label is None:
        keep_f = torchvision.ops.nms(box_t, score_t, iou_threshold).numpy()
    else:
        labels_f = label[passed]
        keep_f = torchvision.ops.batched_nms(box_t, score_t, torch.from_numpy(labels_f), iou_threshold).numpy()
        if boxes_f.size > _VANILLA_NUMEL:
            groups = labels_f
        else:
            geometry = _offset_boxes(boxes_f, labels_f)
    n = len(scores_f)
    rank = np.empty(n, np.int64)
    rank[by_score] = np.arange(n)
    suppressor, iou = _attribute(geometry, groups, rank, keep_f, iou_threshold)

    position = np.full(n, -1, np.int64)
    position[keep_f] = np.arange(len(keep_f))
    lost = np.flatnonzero(suppressor >= 0)
    step_of = position[suppressor[lost]]
    by_step = np.lexsort((rank[lost], step_of))
    lost_input, lost_iou = passed[lost[by_step]], iou[lost[by_step]]
    counts = np.bincount(step_of, minlength=len(keep_f)).astype(np.int64)
    kept_input = passed[keep_f]
    greedy = GreedySteps(kept_input.astype(np.int64), counts, lost_input.astype(np.int64),
                         lost_iou.astype(np.float32))
    if not record_steps:
        return [], kept_input, greedy
    ends = np.cumsum(counts).tolist()
    starts = [0] + ends[:-1]
    steps = [
        _step(kept=k, suppressed=lost_input[a:b], ious=lost_iou[a:b], decayed=_EMPTY_I,
              decayed_scores=_EMPTY_F, score=s)
        for k, s, a, b in zip(kept_input.tolist(), scores_f[keep_f].tolist(), starts, ends)
    ]
    return steps, kept_input, greedy


def _step(**fields: object) -> NMSStep:
    """An NMSStep without running the frozen dataclass' ``__init__`` (one guarded setattr per
    field, ~1.5 us): a 10k-box replay builds thousands of steps each time a slider moves.
    ``fields`` must name every field; test_nms checks the result equals ``NMSStep(**fields)``."""
    step = object.__new__(NMSStep)
    step.__dict__.update(fields)
    return step


def _offset_boxes(boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The boxes ``_batched_nms_coordinate_trick`` hands to nms(): the same float operations."""
    if boxes.size == 0:
        return boxes
    step = boxes.max() + boxes.dtype.type(1)
    shifted: np.ndarray = boxes + (labels.astype(boxes.dtype) * step)[:, None]
    return shifted


def _kernel_iou(col: _Columns, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """IoU of pairs (i[k], j[k]) with the arithmetic of torchvision's CPU kernel (same dtype,
    same operation order), so that comparisons with the threshold agree bit for bit.
    col: the boxes as contiguous columns x1, y1, x2, y2, area (1-D gathers are the fast ones)."""
    x1, y1, x2, y2, area = col
    w = np.maximum(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0)
    h = np.maximum(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0)
    inter = w * h
    with np.errstate(invalid="ignore", divide="ignore"):
        iou: np.ndarray = inter / (area[i] + area[j] - inter)
    return iou


def _attribute(geometry: np.ndarray, groups: np.ndarray | None, rank: np.ndarray, keep: np.ndarray,
               iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """For every box not in ``keep``: its suppressor and their IoU.

    geometry (n, 4) the boxes nms() saw; groups (n,) class ids or None; rank (n,) processing
    order; keep (K,) kept indices. Returns suppressor (n,) int64 (-1 for kept boxes) and
    iou (n,) float32: the kept box of the same group, earliest in rank, with IoU > threshold.
    """
    n = len(rank)
    suppressor, best_iou = np.full(n, -1, np.int64), np.full(n, np.nan, np.float32)
    kept = np.zeros(n, bool)
    kept[keep] = True
    lost = np.flatnonzero(~kept)
    if len(lost) == 0:
        return suppressor, best_iou
    x1, y1, x2, y2 = (np.ascontiguousarray(geometry[:, k]) for k in range(4))
    col = (x1, y1, x2, y2, (x2 - x1) * (y2 - y1))
    best_rank = np.full(n, n, np.int64)
    shrink = _safe_shrink(col[4], iou_threshold)
    for i, j in _candidate_pairs(x1, x2, groups, keep, lost, shrink):
        i, j, iou = _earliest_suppressors(col, rank, i, j, iou_threshold)
        better = rank[i] < best_rank[j]  # an earlier chunk may have found an earlier one
        i, j = i[better], j[better]
        best_rank[j], suppressor[j], best_iou[j] = rank[i], i, iou[better]
    orphans = lost[suppressor[lost] < 0]
    if len(orphans):
        _attribute_orphans(col, groups, rank, keep, orphans, suppressor, best_iou, iou_threshold)
    return suppressor, best_iou


def _earliest_suppressors(col: _Columns, rank: np.ndarray, i: np.ndarray, j: np.ndarray,
                          iou_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of candidate pairs (kept i, lost j), those where i comes before j and IoU > threshold,
    reduced to the earliest i for each j. Returns (i, j, iou) with unique j."""
    x1, y1, x2, y2, _ = col
    ok = (np.minimum(y2[i], y2[j]) > np.maximum(y1[i], y1[j])) & (rank[i] < rank[j])  # cheap pre-filter
    i, j = i[ok], j[ok]
    iou = _kernel_iou(col, i, j)
    hit = iou.astype(np.float64) > iou_threshold  # the kernel compares in double
    i, j, iou = i[hit], j[hit], iou[hit]
    first = np.lexsort((rank[i], j))
    i, j, iou = i[first], j[first], iou[first]
    head = np.ones(len(j), bool)
    head[1:] = j[1:] != j[:-1]
    return i[head], j[head], iou[head]


def _attribute_orphans(col: _Columns, groups: np.ndarray | None, rank: np.ndarray, keep: np.ndarray, orphans: np.ndarray,
                       suppressor: np.ndarray, best_iou: np.ndarray, iou_threshold: float) -> None:
    # Only reached if torchvision changes how it computes IoU (e.g. which boxes batched_nms
    # shifts) and a box sits within rounding of the threshold: credit the best-overlapping
    # earlier kept box of its class rather than leave the box out of the trace.
    for j in orphans:
        cand = keep[rank[keep] < rank[j]]
        if groups is not None:
            cand = cand[groups[cand] == groups[j]]
        if len(cand):
            cand = cand[np.argsort(rank[cand])]
            iou = np.nan_to_num(_kernel_iou(col, cand, np.full(len(cand), j)), nan=-1.0)
            hit = np.flatnonzero(iou.astype(np.float64) > iou_threshold)
            best = int(hit[0]) if len(hit) else int(np.argmax(iou))
            suppressor[j], best_iou[j] = cand[best], iou[best]


def _safe_shrink(area: np.ndarray, iou_threshold: float) -> float:
    """How much of a box's width a suppressing overlap must exceed: IoU > t implies an x-overlap
    > t * width of either box. Loosened by 1e-5, far beyond the kernel's rounding (relative
    2^-24 per operation); 0 (any overlap) where tiny areas would make that rounding subnormal."""
    positive = area[area > 0]
    if len(positive) == 0 or iou_threshold * float(positive.min()) < np.finfo(area.dtype).tiny * 1e6:
        return 0.0
    return float(iou_threshold) * (1.0 - 1e-5)


def _candidate_pairs(x1: np.ndarray, x2: np.ndarray, groups: np.ndarray | None, rows: np.ndarray, cols: np.ndarray,
                     shrink: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield chunks (i, j), i in rows and j in cols of the same group, holding every pair whose
    x-overlap is wider than ``shrink`` times the width of each box, without forming all pairs.

    strategy: with the columns sorted by (group, x1) the pairs with
    x1_i <= x1_j < x2_i - shrink * w_i form one range per row i; those with
    x1_j < x1_i < x2_j - shrink * w_j come from the mirror query on the sorted rows. The
    bounds are computed in float64, loosened a little, and every value becomes its exact
    integer rank among the x1 values so that (group, x) fits one int64 key.
    """
    left, right = x1.astype(np.float64), x2.astype(np.float64)
    limit = right - shrink * (right - left) + 1e-9 * (np.abs(left) + np.abs(right))
    values, start = np.unique(left, return_inverse=True)
    stop = np.searchsorted(values, limit, "left")  # x1_j < limit_i  <=>  start_j < stop_i
    if groups is not None:
        low, high, width = int(groups.min()), int(groups.max()), len(values) + 1
        ids = groups - low if high - low < 2**62 // width else np.unique(groups, return_inverse=True)[1]
        start, stop = start + ids * width, stop + ids * width
    sides: tuple[tuple[np.ndarray, np.ndarray, Literal["left", "right"]], ...] = (
        (rows, cols, "left"), (cols, rows, "right"))
    for owners, others, side in sides:
        others = others[np.argsort(start[others], kind="stable")]
        lo = np.searchsorted(start[others], start[owners], side)
        hi = np.searchsorted(start[others], stop[owners], "left")
        for owner, other in _expand(owners, others, lo, np.maximum(hi - lo, 0)):
            yield (owner, other) if side == "left" else (other, owner)


def _expand(owners: np.ndarray, others: np.ndarray, lo: np.ndarray,
            counts: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (owner, other): owners[k] paired with others[lo[k]] .. others[lo[k] + counts[k] - 1],
    in chunks of about ``_PAIR_CHUNK`` pairs."""
    ends = np.cumsum(counts)
    first = 0
    while first < len(counts) and ends[-1] > 0:
        base = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, base + _PAIR_CHUNK, "right")), first + 1)
        size = counts[first:last]
        shift = np.repeat(lo[first:last] - (ends[first:last] - size - base), size)
        yield np.repeat(owners[first:last], size), others[np.arange(len(shift)) + shift]
        first = last


# -- Soft-NMS -----------------------------------------------------------------------------------

def _soft_nms(box: np.ndarray, score: np.ndarray, label: np.ndarray | None, order: np.ndarray, iou_threshold: float,
              score_threshold: float, agnostic: bool, method: str,
              sigma: float) -> tuple[list[NMSStep], np.ndarray, np.ndarray]:
    """Soft-NMS per group (all boxes, or one class at a time), merged by the score each box
    had when it was picked: picked scores never increase, so this equals one global loop."""
    boxes = box.astype(np.float64)
    final = score.astype(np.float64)
    rank = np.empty(len(final), np.int64)
    rank[order] = np.arange(len(order))
    if agnostic or label is None or len(order) == 0:
        runs = [order]
    else:
        labels = label[order]
        runs = [order[labels == c] for c in np.unique(labels)]
    steps = []
    for run in runs:
        steps += _soft_run(boxes, final, run, iou_threshold, score_threshold, method, sigma)
    steps.sort(key=lambda s: (-s.score, rank[s.kept]))
    keep = np.array([s.kept for s in steps], np.int64)
    return steps, keep, final.astype(np.float32)


def _soft_run(boxes: np.ndarray, final: np.ndarray, idx: np.ndarray, iou_threshold: float, score_threshold: float,
              method: str, sigma: float) -> list[NMSStep]:
    """Soft-NMS on ``idx`` (input indices in rank order); writes final scores into ``final``.

    The live boxes' scores sit in ``score``; a finished box (picked or suppressed) gets -inf
    there, so the next pick is one argmax (the first maximum: ties go to the earlier rank).
    """
    idx = idx.copy()
    box = boxes[idx]
    score = final[idx]
    area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    steps, left, dead = [], len(idx), 0
    while left:
        m = int(np.argmax(score))
        picked_score, score[m] = float(score[m]), -np.inf
        b = box[m]
        w = np.maximum(np.minimum(box[:, 2], b[2]) - np.maximum(box[:, 0], b[0]), 0)
        h = np.maximum(np.minimum(box[:, 3], b[3]) - np.maximum(box[:, 1], b[1]), 0)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (area[m] + area - inter)
        hit = np.flatnonzero((iou > (iou_threshold if method == "linear" else 0.0)) & (score > -np.inf))
        if method == "linear":
            score[hit] *= 1.0 - iou[hit]
        else:
            score[hit] *= np.exp(-(iou[hit] ** 2) / sigma)
        new_scores = score[hit]
        final[idx[hit]] = new_scores
        gone = hit[new_scores <= score_threshold]
        score[gone] = -np.inf
        left, dead = left - 1 - len(gone), dead + 1 + len(gone)
        steps.append(_step(kept=int(idx[m]), suppressed=idx[gone], ious=iou[gone].astype(np.float32),
                           decayed=idx[hit], decayed_scores=new_scores.astype(np.float32), score=picked_score))
        if dead > 64 and dead > left:  # drop finished boxes so later steps touch fewer
            live = score > -np.inf
            idx, box, score, area, dead = idx[live], box[live], score[live], area[live], 0
    return steps
