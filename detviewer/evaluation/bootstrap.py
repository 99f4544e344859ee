"""Paired bootstrap of ΔAP (B − A): how sure is "B is better"?

    result = paired_bootstrap(ev_a, ev_b, resamples=1000, seed=0)   # two DatasetEvaluations of one GT
    result.ap.low, result.ap.high, result.ap50, result.class_interval(k)

Images are resampled with replacement, the same images for A and B (paired); each resample's AP is COCO's
(pycocotools' AP@[.5:.95] and AP50, area "all", 100 detections per image and class) of the dataset in which
image i appears ``w_i`` times. That needs no re-matching: which detection matches which object at each IoU
threshold is a per-image fact, so the matches are computed once (``core.coco_eval.match_detections``, the
engine's own) and each resample is a weighted precision / recall accumulation:

- per class, the detections in the engine's order (-score, image, rank); a detection of image i counts w_i
  times, ``n_pos`` is the weighted count of objects;
- interpolated precision at recall r is the highest precision at or after the first point whose true
  positives reach r, and such a highest point is always a true positive: only true positives (at most the
  class's object count per threshold) are visited, their false-positive counts read off one cumulative sum;
- with all weights 1 this is the engine's AP (to rounding); a weight w equals the dataset with w copies of
  the image placed next to it (exactly so unless two detections of one image and class tie in score: the
  copies of each detection count together).

The interval is the percentile interval of the resampled Δ (2.5 % and 97.5 % for 95 %). Resample j's images
are drawn by ``numpy.random.default_rng([seed, j])``, so a result depends on the seed and j only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.coco_eval import AREA_RANGES, IOU_THRESHOLDS, RECALL_THRESHOLDS, match_detections
from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "Interval", "BootstrapResult", "SideTable", "paired_bootstrap",
           "resample_weights", "weighted_ap", "object_counts"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
_T50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_BLOCK_ELEMENTS = 1 << 22  # elements of one (resamples, boxes) block


@dataclass(frozen=True)
class Interval:
    """ΔAP on the original images (``delta``) and the bootstrap percentile interval [low, high]; NaN when
    undefined (no class with objects)."""

    delta: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """resamples of num_images images drawn with ``seed``; d_ap / d_ap50 (B,) float64 Δ mean AP per resample;
    class_d_ap / class_d_ap50 (B, K) per class, NaN where the resample holds no object of the class;
    ap / ap50: the mean's intervals at ``confidence``."""

    resamples: int
    seed: int
    confidence: float
    num_images: int
    d_ap: np.ndarray
    d_ap50: np.ndarray
    class_d_ap: np.ndarray
    class_d_ap50: np.ndarray
    ap: Interval
    ap50: Interval

    def class_interval(self, k: int, delta: float, iou50: bool = False) -> Interval:
        """Class k's interval (``delta``: its ΔAP on the original images); NaN bounds if it is never present."""
        return _interval(delta, (self.class_d_ap50 if iou50 else self.class_d_ap)[:, k], self.confidence)


def _interval(delta: float, samples: np.ndarray, confidence: float) -> Interval:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return Interval(float(delta), float("nan"), float("nan"))
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return Interval(float(delta), float(low), float(high))


@dataclass(frozen=True, eq=False)
class _ClassPart:
    """One class's detections that can change its AP, in the engine's order (true positives at some
    threshold and everything before the last of them): image (n,) int64; per IoU threshold t, tp[t]
    (local indices of true positives) and dead[t] (detections ignored at t, e.g. matched to a crowd)."""

    image: np.ndarray
    tp: tuple[np.ndarray, ...]
    dead: tuple[np.ndarray, ...]


class SideTable:
    """One side's match results, computed once: per class, what :func:`weighted_ap` accumulates.

    gt / dt: the evaluation's boxes (``core.metrics``); num_classes K.
    """

    def __init__(self, gt: GroundTruthBoxes, dt: DetectionBoxes, num_classes: int):
        self.num_classes = int(num_classes)
        matches = match_detections(gt, dt, self.num_classes, area_ranges=AREA_RANGES[:1])
        det, rank = matches.det, matches.rank
        lo, hi = AREA_RANGES[0][1], AREA_RANGES[0][2]
        # As core.coco_eval.evaluate_bbox: a match to GT id 0 is no match (pycocotools reads the id as truth);
        # an unmatched detection outside the area range is ignored.
        counted = np.r_[gt.ids != 0, False][matches.matched_gt[0]]                 # (T, D)
        area = dt.area[det]
        ignored = matches.det_ignore[0] | (~counted & ((area < lo) | (area > hi))[None, :])
        live, tp = ~ignored, ~ignored & counted
        cat = dt.category_index[det]
        order = np.lexsort((rank, dt.image_index[det], -dt.scores[det], cat))
        bounds = np.searchsorted(cat[order], np.arange(self.num_classes + 1))
        image = dt.image_index[det][order]
        live, tp = live[:, order], tp[:, order]
        self.parts: list[_ClassPart | None] = []
        for k in range(self.num_classes):
            lo_k, hi_k = bounds[k], bounds[k + 1]
            tp_k = tp[:, lo_k:hi_k]
            hits = np.flatnonzero(tp_k.any(axis=0))
            if hits.size == 0:
                self.parts.append(None)
                continue
            end = int(hits[-1]) + 1               # later detections only lower precision after the last TP
            live_k = live[:, lo_k:lo_k + end]
            keep = np.flatnonzero(live_k.any(axis=0))
            live_k, tp_k = live_k[:, keep], tp_k[:, keep]
            self.parts.append(_ClassPart(
                image=image[lo_k + keep],
                tp=tuple(np.flatnonzero(row) for row in tp_k),
                dead=tuple(np.flatnonzero(~row) for row in live_k)))

    @property
    def max_boxes(self) -> int:
        return max((len(p.image) for p in self.parts if p is not None), default=0)


def object_counts(gt: GroundTruthBoxes, num_classes: int) -> tuple[np.ndarray, ...]:
    """Per class, the image of each object COCO counts at area "all" (not a crowd): K arrays of image indices."""
    counted = ~(gt.crowd | (gt.area < AREA_RANGES[0][1]) | (gt.area > AREA_RANGES[0][2]))
    cat, img = gt.category_index[counted], gt.image_index[counted]
    order = np.argsort(cat, kind="stable")
    bounds = np.searchsorted(cat[order], np.arange(int(num_classes) + 1))
    return tuple(img[order[bounds[k]:bounds[k + 1]]] for k in range(int(num_classes)))


def _needed_counts(n_pos: np.ndarray) -> np.ndarray:
    """(b, R) the smallest true-positive count c with c / n_pos >= r for each recall threshold r, in the float
    division pycocotools uses (``np.searchsorted(np.arange(n + 1) / n, r)``); n_pos (b,) > 0 integer floats."""
    n = np.maximum(n_pos, 1.0)[:, None]
    r = RECALL_THRESHOLDS[None, :]
    c = np.ceil(r * n)
    c = np.where((c >= 1) & ((c - 1) / n >= r), c - 1, c)
    return np.where(c / n < r, c + 1, c)


def weighted_ap(side: SideTable, weights: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """(b, K, 2) COCO AP@[.5:.95] and AP50 per class of the dataset in which image i appears weights[:, i] times.

    weights (b, I) float64 integer multiplicities; n_pos (b, K) the weighted object counts (from
    :func:`object_counts`). NaN where n_pos is 0 (pycocotools' -1: the class is not in that dataset).
    """
    b = weights.shape[0]
    out = np.zeros((b, side.num_classes, 2))
    num_t = len(IOU_THRESHOLDS)
    rows = np.arange(b)[:, None]
    for k, part in enumerate(side.parts):
        present = n_pos[:, k] > 0
        if part is None or not present.any():
            continue
        need = _needed_counts(n_pos[:, k])
        spread = float(n_pos[:, k].max()) + 2.0    # rows of the flattened search never overlap
        shift = np.arange(b, dtype=np.float64)[:, None] * spread
        w = weights[:, part.image]                  # (b, n)
        live = np.cumsum(w, axis=1)
        ap = np.zeros((b, num_t))
        for t in range(num_t):
            tp = part.tp[t]
            n = tp.size
            if n == 0:
                continue
            hits = np.cumsum(w[:, tp], axis=1)      # weighted TPs up to each TP
            seen = live[:, tp]                      # weighted counted detections up to each TP
            dead = part.dead[t]
            if dead.size:
                cum_dead = np.concatenate([np.zeros((b, 1)), np.cumsum(w[:, dead], axis=1)], axis=1)
                seen = seen - cum_dead[:, np.searchsorted(dead, tp, side="right")]
            precision = hits / ((seen - hits) + hits + np.spacing(1))
            envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
            pos = np.searchsorted((hits + shift).ravel(), (need + shift).ravel(), side="left").reshape(b, -1)
            pos -= np.arange(b)[:, None] * n
            q = np.where(pos < n, envelope[rows, np.minimum(pos, n - 1)], 0.0)
            ap[:, t] = q.mean(axis=1)
        out[:, k, 0] = ap.mean(axis=1)
        out[:, k, 1] = ap[:, _T50]
    out[n_pos <= 0] = np.nan
    return out


def resample_weights(num_images: int, seed: int, start: int, stop: int) -> np.ndarray:
    """(stop - start, num_images) float64: how often each image is drawn in resamples start..stop-1 (num_images
    draws with replacement each, resample j from ``default_rng([seed, j])``)."""
    out = np.zeros((stop - start, num_images))
    for row, j in enumerate(range(start, stop)):
        draws = np.random.default_rng([int(seed), j]).integers(0, num_images, num_images)
        out[row] = np.bincount(draws, minlength=num_images)
    return out


def _weighted_counts(objects: tuple[np.ndarray, ...], weights: np.ndarray) -> np.ndarray:
    return np.stack([weights[:, img].sum(axis=1) for img in objects], axis=1) if objects else \
        np.zeros((weights.shape[0], 0))


def _mean_over_present(ap: np.ndarray) -> np.ndarray:
    """(b,) mean of (b, K) over the classes present (not NaN); NaN where none is."""
    present = np.isfinite(ap)
    total = np.where(present, ap, 0.0).sum(axis=1)
    count = present.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def paired_bootstrap(a, b, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                     confidence: float = 0.95, tables: tuple[SideTable, SideTable] | None = None) -> BootstrapResult:
    """Paired bootstrap of ΔAP = B − A for two ``DatasetEvaluation`` s of the same ground truth.

    The interval's ``delta`` is the engine's own ΔAP (pycocotools' summary AP of B minus that of A).
    tables: both sides' :class:`SideTable` when the caller has them.
    """
    if resamples < 1:
        raise ValueError("the bootstrap needs at least one resample")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    k, num_images = a.num_classes, a.num_images
    side_a, side_b = tables or (SideTable(a.gt, a.dt, k), SideTable(b.gt, b.dt, k))
    objects = object_counts(a.gt, k)
    widest = max(num_images, side_a.max_boxes, side_b.max_boxes, max((len(o) for o in objects), default=0), 1)
    step = max(1, min(resamples, _BLOCK_ELEMENTS // widest))
    class_d = np.empty((resamples, k, 2))
    mean_d = np.empty((resamples, 2))
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        weights = resample_weights(num_images, seed, start, stop)
        n_pos = _weighted_counts(objects, weights)
        ap_a, ap_b = weighted_ap(side_a, weights, n_pos), weighted_ap(side_b, weights, n_pos)
        class_d[start:stop] = ap_b - ap_a
        for j in range(2):
            mean_d[start:stop, j] = _mean_over_present(ap_b[:, :, j]) - _mean_over_present(ap_a[:, :, j])
    sa, sb = a.coco.stats, b.coco.stats
    return BootstrapResult(resamples=int(resamples), seed=int(seed), confidence=float(confidence),
                           num_images=int(num_images), d_ap=mean_d[:, 0], d_ap50=mean_d[:, 1],
                           class_d_ap=class_d[:, :, 0], class_d_ap50=class_d[:, :, 1],
                           ap=_interval(sb["AP"] - sa["AP"], mean_d[:, 0], confidence),
                           ap50=_interval(sb["AP50"] - sa["AP50"], mean_d[:, 1], confidence))
