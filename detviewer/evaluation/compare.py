"""A / B comparison of two predictions on one dataset: did B get better, and where did it get worse?

    cmp = Comparison.from_dataset(dataset, predictions_a, predictions_b)   # or Comparison(ev_a, ev_b)
    snap = cmp.at(score_a=0.3, score_b=0.4, iou=0.5)
    snap.classes.d_ap, snap.images.worst_first("ap")[:10], snap.objects(image), snap.error_deltas
    snap.changes().fixed, cmp.bootstrap(resamples=1000).ap      # objects B fixed / broke; ΔAP's interval

Each side is a :class:`~.dataset_evaluation.DatasetEvaluation` of the same ground truth (the same
matcher, COCO table, per-image AP and TIDE as ``detviewer eval``); this module only subtracts, sorts
and intersects their matchings. Every delta is B - A, so a negative delta is a regression of B.
Each side has its own score threshold (two models are rarely calibrated alike); both share the IoU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detviewer.evaluation.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapResult, SideTable, paired_bootstrap
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation, EvaluationSnapshot
from detviewer.evaluation.errors import ERROR_TYPES

if TYPE_CHECKING:
    from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
    from detviewer.evaluation.tide import TideResult
    from detviewer.io.dataset_types import Dataset
    from detviewer.io.predictions import Predictions

__all__ = ["Comparison", "ComparisonSnapshot", "ClassDeltas", "ImageDeltas", "ObjectDiff", "ObjectList",
           "ObjectChanges", "SORT_KEYS"]

#: Keys of :meth:`ImageDeltas.worst_first`: per-image AP, or TP - FP - FN at the thresholds.
SORT_KEYS = ("ap", "net")


@dataclass(frozen=True, eq=False)
class ClassDeltas:
    """Per class (K,) float64: ap_* (COCO AP@[.5:.95]) and ap50_* (COCO AP@0.5) over all scores, recall_* at
    each side's score threshold; -1 for a class without ground truth (as pycocotools). n_gt (K,) int64.
    The ``d_*`` properties are B - A, NaN for a class without ground truth."""

    ap_a: np.ndarray
    ap_b: np.ndarray
    ap50_a: np.ndarray
    ap50_b: np.ndarray
    recall_a: np.ndarray
    recall_b: np.ndarray
    n_gt: np.ndarray

    def _delta(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(self.n_gt > 0, b - a, np.nan)

    @property
    def d_ap(self) -> np.ndarray:
        return self._delta(self.ap_a, self.ap_b)

    @property
    def d_ap50(self) -> np.ndarray:
        return self._delta(self.ap50_a, self.ap50_b)

    @property
    def d_recall(self) -> np.ndarray:
        return self._delta(self.recall_a, self.recall_b)


@dataclass(frozen=True, eq=False)
class ImageDeltas:
    """Per image (I,): ap_* float64 (COCO 101-point AP of the image at the IoU, NaN without objects);
    tp_*, fp_*, fn_* int64 at each side's threshold; a_only / b_only int64: objects one side found and
    the other missed. ``net_*`` = TP - FP - FN; ``d_*`` = B - A (d_ap NaN without objects)."""

    ap_a: np.ndarray
    ap_b: np.ndarray
    tp_a: np.ndarray
    fp_a: np.ndarray
    fn_a: np.ndarray
    tp_b: np.ndarray
    fp_b: np.ndarray
    fn_b: np.ndarray
    a_only: np.ndarray
    b_only: np.ndarray

    @property
    def net_a(self) -> np.ndarray:
        return self.tp_a - self.fp_a - self.fn_a

    @property
    def net_b(self) -> np.ndarray:
        return self.tp_b - self.fp_b - self.fn_b

    @property
    def d_ap(self) -> np.ndarray:
        return self.ap_b - self.ap_a

    @property
    def d_net(self) -> np.ndarray:
        return self.net_b - self.net_a

    def worst_first(self, key: str = "ap") -> np.ndarray:
        """(I,) image indices, the image B got most worse on first: by Δ of ``key`` ("ap" or "net"), then by
        the other Δ (an image without objects has no AP: its ΔAP counts as 0), then by image index."""
        if key not in SORT_KEYS:
            raise ValueError(f"sort key must be one of {SORT_KEYS}, not {key!r}")
        d_ap = np.nan_to_num(self.d_ap, nan=0.0)
        d_net = self.d_net.astype(np.float64)
        primary, secondary = (d_ap, d_net) if key == "ap" else (d_net, d_ap)
        return np.lexsort((np.arange(len(d_ap)), secondary, primary))


@dataclass(frozen=True)
class ObjectDiff:
    """One image's objects that one side found and the other missed, at the operating point.

    a_only (n,) int64 GT indices A found and B missed; a_only_det (n,) the detection of A (index into A's
    detections) that matched each; b_only / b_only_det the reverse (indices into B's detections)."""

    image: int
    a_only: np.ndarray
    a_only_det: np.ndarray
    b_only: np.ndarray
    b_only_det: np.ndarray


@dataclass(frozen=True, eq=False)
class ObjectList:
    """Objects one side found at its score threshold and the other missed, the finder's most confident first.

    gt (n,) int64 GT indices; image (n,) int64 their images; category (n,) int64 their classes; det (n,)
    int64 the finder's detection that matched each (index into its detections); score (n,) float64 its score.
    """

    gt: np.ndarray
    image: np.ndarray
    category: np.ndarray
    det: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.gt.size)


@dataclass(frozen=True, eq=False)
class ObjectChanges:
    """fixed: the objects B finds that A missed; broken: those A finds that B misses (each an ObjectList)."""

    fixed: ObjectList
    broken: ObjectList


class Comparison:
    """Two evaluations of one ground truth (``a`` and ``b``, DatasetEvaluation), compared at operating points.

    names: how the two sides are called in tables and charts.
    """

    def __init__(self, a: DatasetEvaluation, b: DatasetEvaluation, names: tuple[str, str] = ("A", "B")) -> None:
        if a.num_images != b.num_images or a.class_names != b.class_names or len(a.gt) != len(b.gt) or not (
                a.gt is b.gt or (np.array_equal(a.gt.image_index, b.gt.image_index)
                                 and np.array_equal(a.gt.xywh, b.gt.xywh))):
            raise ValueError("A and B must be evaluated against the same ground truth (images, classes, boxes)")
        self.a, self.b, self.names = a, b, (str(names[0]), str(names[1]))
        self._tables: tuple[SideTable, SideTable] | None = None
        self._bootstraps: dict[tuple[int, int], BootstrapResult] = {}

    @classmethod
    def from_boxes(cls, gt: GroundTruthBoxes, dt_a: DetectionBoxes, dt_b: DetectionBoxes, num_images: int,
                   class_names: Sequence[str], names: tuple[str, str] = ("A", "B")) -> Comparison:
        """From one GroundTruthBoxes and two DetectionBoxes indexed into the same image and class lists."""
        return cls(DatasetEvaluation(gt, dt_a, num_images, class_names),
                   DatasetEvaluation(gt, dt_b, num_images, class_names), names)

    @classmethod
    def from_dataset(cls, dataset: Dataset, predictions_a: Predictions, predictions_b: Predictions,
                     names: tuple[str, str] | None = None) -> Comparison:
        """From an ``io.datasets.Dataset`` and two ``io.predictions.Predictions`` over it (a results file or a
        model run each)."""
        names = names or (predictions_a.source, predictions_b.source)
        return cls.from_boxes(dataset.boxes, predictions_a.boxes, predictions_b.boxes, dataset.num_images,
                              dataset.class_names, names)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.a.class_names

    def best_thresholds(self, iou: float = 0.5) -> tuple[float, float]:
        """Each side's F1-best score threshold at ``iou`` (what ``detviewer eval`` uses by default)."""
        return self.a.curves(iou).best_threshold, self.b.curves(iou).best_threshold

    def precompute(self, iou: float = 0.5, bootstrap: int = 0) -> None:
        """Every threshold-free part of both sides (for a worker thread), so that ``at`` only counts; and the
        ΔAP interval with ``bootstrap`` resamples (0, the default: not; it takes seconds on large datasets)."""
        self.a.precompute(iou)
        self.b.precompute(iou)
        if bootstrap > 0:
            self.bootstrap(bootstrap)

    def bootstrap(self, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, threads: int | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BootstrapResult:
        """The paired bootstrap interval of ΔAP and ΔAP50 (``evaluation.bootstrap``; independent of the score
        thresholds and the matching IoU, so computed once per (resamples, seed); threads, should_stop: see
        there)."""
        key = (int(resamples), int(seed))
        if key not in self._bootstraps:
            if self._tables is None:
                k = self.a.num_classes
                self._tables = (SideTable(self.a.gt, self.a.dt, k), SideTable(self.b.gt, self.b.dt, k))
            self._bootstraps[key] = paired_bootstrap(self.a, self.b, key[0], key[1], tables=self._tables,
                                                     threads=threads, should_stop=should_stop)
        return self._bootstraps[key]

    def bootstrap_ready(self, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> BootstrapResult | None:
        """The interval if it has been computed already (the window never computes it on its own thread)."""
        return self._bootstraps.get((int(resamples), int(seed)))

    def at(self, score_a: float, score_b: float | None = None, iou: float = 0.5) -> ComparisonSnapshot:
        """Both sides at ``score > score_a`` / ``score > score_b`` (default: score_a), matched at ``iou``."""
        score_b = score_a if score_b is None else score_b
        return ComparisonSnapshot(self, self.a.at(score_a, iou), self.b.at(score_b, iou))


def _found_by(snap: EvaluationSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool objects a detection above the threshold matched, and (N,) int64 that detection (-1: none)."""
    m = snap.matching
    hit = np.flatnonzero(snap.above & (m.det_gt >= 0))
    det = np.full(len(m.gt_object), -1, np.int64)
    det[m.det_gt[hit]] = hit
    return m.gt_object & (det >= 0), det


class ComparisonSnapshot:
    """A and B at one operating point each: ``a`` / ``b`` (EvaluationSnapshot), ``classes`` (ClassDeltas),
    ``images`` (ImageDeltas), ``tide_a`` / ``tide_b`` and ``error_deltas``, ``objects(image)``."""

    def __init__(self, comparison: Comparison, a: EvaluationSnapshot, b: EvaluationSnapshot) -> None:
        self.comparison, self.a, self.b = comparison, a, b
        self.names = comparison.names
        self.iou_threshold = a.iou_threshold
        found_a, self._det_a = _found_by(a)
        found_b, self._det_b = _found_by(b)
        self._a_only, self._b_only = found_a & ~found_b, found_b & ~found_a
        ca, cb = a.classes, b.classes
        self.classes = ClassDeltas(ap_a=ca.ap, ap_b=cb.ap, ap50_a=ca.ap50, ap50_b=cb.ap50, recall_a=ca.recall,
                                   recall_b=cb.recall, n_gt=ca.n_gt)
        gt_img, n = comparison.a.gt.image_index, comparison.a.num_images
        ia, ib = a.images, b.images
        self.images = ImageDeltas(ap_a=ia.ap, ap_b=ib.ap, tp_a=ia.tp, fp_a=ia.fp, fn_a=ia.fn, tp_b=ib.tp,
                                  fp_b=ib.fp, fn_b=ib.fn,
                                  a_only=np.bincount(gt_img[self._a_only], minlength=n)[:n],
                                  b_only=np.bincount(gt_img[self._b_only], minlength=n)[:n])

    @property
    def score_thresholds(self) -> tuple[float, float]:
        return self.a.score_threshold, self.b.score_threshold

    @property
    def tide_a(self) -> TideResult:
        return self.a.tide

    @property
    def tide_b(self) -> TideResult:
        return self.b.tide

    @property
    def error_deltas(self) -> dict[str, float]:
        """TIDE dAP of B minus that of A per error type (AP points; positive: B loses more to it)."""
        return {t: self.tide_b.main_dap[t] - self.tide_a.main_dap[t] for t in ERROR_TYPES}

    def objects(self, image: int) -> ObjectDiff:
        """The objects of ``image`` one side found and the other missed, with the detection that found each."""
        on = self.comparison.a.gt.image_index == image
        a_only, b_only = np.flatnonzero(on & self._a_only), np.flatnonzero(on & self._b_only)
        return ObjectDiff(int(image), a_only, self._det_a[a_only], b_only, self._det_b[b_only])

    def changes(self) -> ObjectChanges:
        """Every object B finds that A missed (``fixed``) and A finds that B misses (``broken``), at each side's
        score threshold and the shared IoU; each list the finder's most confident detection first."""
        return ObjectChanges(fixed=self._object_list(self._b_only, self._det_b, self.b),
                             broken=self._object_list(self._a_only, self._det_a, self.a))

    def _object_list(self, mask: np.ndarray, det_of: np.ndarray, side: EvaluationSnapshot) -> ObjectList:
        gt = np.flatnonzero(mask)
        det = det_of[gt]
        score = side.evaluation.dt.scores[det]
        order = np.lexsort((gt, -score))
        gt, det, score = gt[order], det[order], score[order]
        boxes = self.comparison.a.gt
        return ObjectList(gt=gt, image=boxes.image_index[gt], category=boxes.category_index[gt], det=det,
                          score=score)

    def found_only(self) -> tuple[np.ndarray, np.ndarray]:
        """(GT indices A found and B missed, GT indices B found and A missed) over the whole dataset."""
        return np.flatnonzero(self._a_only), np.flatnonzero(self._b_only)
