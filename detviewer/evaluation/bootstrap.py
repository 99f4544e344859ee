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
  class's object count per threshold) are visited, their detection counts read off running sums, and the AP
  is the sum over them of that highest precision times the recall thresholds each reaches first, over 101;
- with all weights 1 this is the engine's AP (to rounding); a weight w equals the dataset with w copies of
  the image placed next to it (exactly so unless two detections of one image and class tie in score: the
  copies of each detection count together).

The interval is the percentile interval of the resampled Δ (2.5 % and 97.5 % for 95 %). Resample j's images
are drawn by ``numpy.random.default_rng([seed, j])``, so a result depends on the seed and j only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detviewer.core.coco_eval import AREA_RANGES, IOU_THRESHOLDS, RECALL_THRESHOLDS, match_detections
from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes

if TYPE_CHECKING:
    from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

__all__ = ["BootstrapStopped", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "Interval", "BootstrapResult", "SideTable", "paired_bootstrap",
           "resample_weights", "weighted_ap", "object_counts", "thresholds_reached",
           "default_threads"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
_T50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_BLOCK_ELEMENTS = 1 << 17  # elements of one (resamples, entries) block: small blocks stay in cache


class BootstrapStopped(Exception):
    """The caller's ``should_stop`` said stop (the comparison was replaced while its interval was computed)."""


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


class SideTable:
    """One side's match results, computed once, laid out flat for :func:`weighted_ap`.

    gt / dt: the evaluation's boxes (``core.metrics``); num_classes K. Per class, the detections that can
    change its AP (every one up to its last true positive at any threshold) in the engine's order; per
    (class, IoU threshold) "segment", the true positives at that threshold. Each flat array is a series of
    runs whose running sums restart at every run's start:

    - det_image (D,) int64 the kept detections' images, one run per class (det_starts);
    - image (N,) int64 the true positives' images, one run per segment (starts); det (N,) each one's position
      in det_image; dead_at (N,) 1 + the position in dead_image of the last detection before it that its
      threshold ignores (matched to a crowd), 0 for none;
    - dead_image (M,) those ignored detections, one run per segment that has some (dead_starts);
    - segment_class, segment_threshold (S,): each segment's class and IoU threshold index.
    """

    def __init__(self, gt: GroundTruthBoxes, dt: DetectionBoxes, num_classes: int) -> None:
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
        parts: dict[str, list] = {key: [] for key in ("det_image", "det_starts", "image", "det", "dead_at",
                                                      "dead_image", "dead_starts", "segments")}
        n_det = n_entries = n_dead = 0
        for k in range(self.num_classes):
            lo_k, hi_k = bounds[k], bounds[k + 1]
            hits = np.flatnonzero(tp[:, lo_k:hi_k].any(axis=0))
            end = int(hits[-1]) + 1 if hits.size else 0  # later detections only lower precision after the last TP
            keep = lo_k + np.flatnonzero(live[:, lo_k:lo_k + end].any(axis=0))
            if keep.size == 0:
                continue
            for t in range(tp.shape[0]):
                mine = np.flatnonzero(tp[t, keep])
                if mine.size == 0:
                    continue
                dead = np.flatnonzero(~live[t, keep])
                before = np.searchsorted(dead, mine)
                parts["segments"].append((n_entries, k, t))
                parts["image"].append(image[keep[mine]])
                parts["det"].append(n_det + mine)
                parts["dead_at"].append(np.where(before > 0, n_dead + before, 0))
                if dead.size:
                    parts["dead_starts"].append(n_dead)
                    parts["dead_image"].append(image[keep[dead]])
                n_entries, n_dead = n_entries + mine.size, n_dead + dead.size
            parts["det_starts"].append(n_det)
            parts["det_image"].append(image[keep])
            n_det += keep.size

        def flat(key: str) -> np.ndarray:
            values = parts[key]
            if values and np.ndim(values[0]):
                return np.concatenate(values).astype(np.int64)
            return np.asarray(values, np.int64)

        self.det_image, self.det_starts = flat("det_image"), flat("det_starts")
        self.image, self.det, self.dead_at = flat("image"), flat("det"), flat("dead_at")
        self.dead_image, self.dead_starts = flat("dead_image"), flat("dead_starts")
        seg = flat("segments").reshape(-1, 3)
        self.starts, self.segment_class, self.segment_threshold = seg[:, 0], seg[:, 1], seg[:, 2]
        self.lengths = lengths = np.diff(np.r_[self.starts, n_entries])
        # the reversed entries' segment number, rising: a complex (segment, precision) key keeps a running
        # maximum inside its segment (numpy orders complex numbers by real part, then imaginary part)
        self._reverse_segment = np.repeat(np.arange(len(seg), dtype=np.float64)[::-1], lengths)[::-1].copy()

    @property
    def width(self) -> int:
        """The longest row one resample needs (for block sizes)."""
        return int(max(len(self.det_image), len(self.image), len(self.dead_image), 1))


def object_counts(gt: GroundTruthBoxes, num_classes: int) -> tuple[np.ndarray, ...]:
    """Per class, the image of each object COCO counts at area "all" (not a crowd): K arrays of image indices."""
    counted = ~(gt.crowd | (gt.area < AREA_RANGES[0][1]) | (gt.area > AREA_RANGES[0][2]))
    cat, img = gt.category_index[counted], gt.image_index[counted]
    order = np.argsort(cat, kind="stable")
    bounds = np.searchsorted(cat[order], np.arange(int(num_classes) + 1))
    return tuple(img[order[bounds[k]:bounds[k + 1]]] for k in range(int(num_classes)))


_RECALL_STEP = 0.01
# pycocotools' np.linspace(0, 1, 101) is i * 0.01 exactly: thresholds_reached relies on it
assert np.array_equal(RECALL_THRESHOLDS, np.arange(len(RECALL_THRESHOLDS)) * _RECALL_STEP)


def thresholds_reached(recall: np.ndarray) -> np.ndarray:
    """How many of COCO's recall thresholds are <= ``recall`` (float64, any shape, values in [0, 1]), as float64:
    the same as ``np.searchsorted(RECALL_THRESHOLDS, recall, side="right")``, by arithmetic instead of a search."""
    m = recall * (len(RECALL_THRESHOLDS) - 1)
    np.floor(m, out=m)
    # thresholds 0..m, m + 1 of them, but for rounding next to one: check threshold m and threshold m + 1 (which
    # for m = 100 is 1.01, above any recall)
    threshold = m * _RECALL_STEP
    count = m + (threshold <= recall)
    m += 1.0
    np.multiply(m, _RECALL_STEP, out=threshold)
    count += threshold <= recall
    return count


def _running(weights: np.ndarray, image: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(b, n) int64 running sums of weights[:, image] that restart at each of ``starts`` (runs tiling 0..n-1,
    none empty). Integers: exact, and numpy's integer cumsum is several times faster than its float one."""
    values = weights.take(image, axis=1)
    if starts.size > 1:  # each run starts by taking back the previous run's total
        values[:, starts[1:]] -= np.add.reduceat(values, starts, axis=1)[:, :-1]
    return np.cumsum(values, axis=1, out=values)


def weighted_ap(side: SideTable, weights: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """(b, K, 2) COCO AP@[.5:.95] and AP50 per class of the dataset in which image i appears weights[:, i] times.

    weights (b, I) int64 multiplicities; n_pos (b, K) the weighted object counts (from :func:`object_counts`).
    NaN where n_pos is 0 (pycocotools' -1: the class is not in that dataset).
    """
    weights = np.asarray(weights, np.int64)
    b, num_t = weights.shape[0], len(IOU_THRESHOLDS)
    ap = np.zeros((b, side.num_classes, num_t))
    if side.image.size:
        hits = _running(weights, side.image, side.starts)          # weighted TPs of the segment up to each TP
        seen = _running(weights, side.det_image, side.det_starts).take(side.det, axis=1)  # and detections
        if side.dead_image.size:  # less those its threshold ignores
            dead = np.zeros((b, side.dead_image.size + 1), np.int64)
            dead[:, 1:] = _running(weights, side.dead_image, side.dead_starts)
            seen -= dead.take(side.dead_at, axis=1)
        hits_f = hits.astype(np.float64)
        # pycocotools: tp / (fp + tp + eps), fp + tp being the (integer) detections seen
        precision = seen.astype(np.float64)
        precision += np.spacing(1)
        np.divide(hits_f, precision, out=precision)
        key = np.empty(precision.shape, np.complex128)
        key.real, key.imag = side._reverse_segment, precision[:, ::-1]
        envelope = np.maximum.accumulate(key, axis=1).imag[:, ::-1]   # the best precision at or after each TP
        # recall thresholds reached by each TP (pycocotools' rc = tp / npig); a threshold's precision is the
        # envelope at the first TP that reaches it, 0 if none does
        total = np.repeat(np.maximum(n_pos, 1).astype(np.float64)[:, side.segment_class], side.lengths, axis=1)
        reached = thresholds_reached(hits_f / total)
        first = reached.copy()
        first[:, 1:] -= reached[:, :-1]
        first[:, side.starts] = reached[:, side.starts]
        sums = np.add.reduceat(envelope * first, side.starts, axis=1)
        ap[:, side.segment_class, side.segment_threshold] = sums / len(RECALL_THRESHOLDS)
    out = np.stack([ap.mean(axis=2), ap[:, :, _T50]], axis=2)
    out[n_pos <= 0] = np.nan
    return out


def resample_weights(num_images: int, seed: int, start: int, stop: int) -> np.ndarray:
    """(stop - start, num_images) int64: how often each image is drawn in resamples start..stop-1 (num_images
    draws with replacement each, resample j from ``default_rng([seed, j])``)."""
    out = np.zeros((stop - start, num_images), np.int64)
    for row, j in enumerate(range(start, stop)):
        draws = np.random.default_rng([int(seed), j]).integers(0, num_images, num_images)
        out[row] = np.bincount(draws, minlength=num_images)
    return out


def _weighted_counts(objects: tuple[np.ndarray, ...], weights: np.ndarray) -> np.ndarray:
    """(b, K) int64 objects per class in each resample: objects as :func:`object_counts` gives them."""
    out = np.zeros((weights.shape[0], len(objects)), np.int64)
    present = np.flatnonzero([len(o) > 0 for o in objects])
    if present.size:
        starts = np.cumsum([0] + [len(objects[k]) for k in present[:-1]])
        drawn = weights.take(np.concatenate([objects[k] for k in present]), axis=1)
        out[:, present] = np.add.reduceat(drawn, starts, axis=1)
    return out


def _mean_over_present(ap: np.ndarray) -> np.ndarray:
    """(b,) mean of (b, K) over the classes present (not NaN); NaN where none is."""
    present = np.isfinite(ap)
    total = np.where(present, ap, 0.0).sum(axis=1)
    count = present.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def default_threads() -> int:
    """``DETVIEWER_THREADS`` if set, else cores - 1 (at least 1), as for the detectors."""
    forced = os.environ.get("DETVIEWER_THREADS", "").strip()
    return int(forced) if forced.isdigit() and int(forced) > 0 else max(1, (os.cpu_count() or 1) - 1)


def paired_bootstrap(a: DatasetEvaluation, b: DatasetEvaluation, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED, confidence: float = 0.95,
                     tables: tuple[SideTable, SideTable] | None = None, threads: int | None = None,
                     should_stop: Callable[[], bool] | None = None) -> BootstrapResult:
    """Paired bootstrap of ΔAP = B − A for two ``DatasetEvaluation`` s of the same ground truth.

    The interval's ``delta`` is the engine's own ΔAP (pycocotools' summary AP of B minus that of A).
    tables: both sides' :class:`SideTable` when the caller has them. threads: blocks of resamples run side by
    side (numpy releases the GIL in its loops; None: :func:`default_threads`); the result does not depend on it.
    """
    if resamples < 1:
        raise ValueError("the bootstrap needs at least one resample")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    k, num_images = a.num_classes, a.num_images
    if num_images < 1:
        raise ValueError("the bootstrap needs at least one image to resample")
    side_a, side_b = tables or (SideTable(a.gt, a.dt, k), SideTable(b.gt, b.dt, k))
    objects = object_counts(a.gt, k)
    widest = max(num_images, side_a.width, side_b.width, max((len(o) for o in objects), default=0), 1)
    step = max(1, min(resamples, _BLOCK_ELEMENTS // widest))
    class_d = np.empty((resamples, k, 2))
    mean_d = np.empty((resamples, 2))

    def block(start: int) -> None:
        if should_stop is not None and should_stop():
            raise BootstrapStopped("the bootstrap was stopped")
        stop = min(resamples, start + step)
        weights = resample_weights(num_images, seed, start, stop)
        n_pos = _weighted_counts(objects, weights)
        ap_a, ap_b = weighted_ap(side_a, weights, n_pos), weighted_ap(side_b, weights, n_pos)
        class_d[start:stop] = ap_b - ap_a
        for j in range(2):
            mean_d[start:stop, j] = _mean_over_present(ap_b[:, :, j]) - _mean_over_present(ap_a[:, :, j])

    starts = range(0, resamples, step)
    workers = min(len(starts), threads or default_threads())
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="bootstrap") as pool:
            list(pool.map(block, starts))
    else:
        for start in starts:
            block(start)
    sa, sb = a.coco.stats, b.coco.stats
    return BootstrapResult(resamples=int(resamples), seed=int(seed), confidence=float(confidence),
                           num_images=int(num_images), d_ap=mean_d[:, 0], d_ap50=mean_d[:, 1],
                           class_d_ap=class_d[:, :, 0], class_d_ap50=class_d[:, :, 1],
                           ap=_interval(sb["AP"] - sa["AP"], mean_d[:, 0], confidence),
                           ap50=_interval(sb["AP50"] - sa["AP50"], mean_d[:, 1], confidence))
