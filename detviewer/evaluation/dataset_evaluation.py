"""One object for a dataset's evaluation: what does not depend on the score threshold is computed once,
``at(score, iou)`` gives everything at an operating point in a few milliseconds.

    ev = DatasetEvaluation(gt_boxes, det_boxes, num_images, class_names)
    snap = ev.at(score=0.25, iou=0.5)
    snap.classes.ap50, snap.confusion.counts, snap.images.fp, snap.cell(2, 5), ev.tide().main_dap

Which interpolation each number uses:

- ``coco`` / ``classes.ap`` / ``classes.ap50`` / ``pr``: COCO (pycocotools), 101 recall points, all
  detections (up to 100 per image and class), independent of the score threshold;
- ``tide()``: tidecv's AP (101 points, up to 100 detections per image), at its IoU;
- ``classes.precision`` / ``recall`` / ``f1``, ``confusion``, ``images``: counts of the detections
  scoring > the threshold, matched at ``iou`` (class-aware pycocotools rules; the confusion matrix
  class-agnostic as Ultralytics matches it), no interpolation;
- ``images.ap``: COCO's 101-point AP of one image's detections at ``iou``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detviewer.core.coco_eval import evaluate_bbox, match_detections
from detviewer.core.metrics import CocoEvalResult, DetectionBoxes, GroundTruthBoxes, check_indices
from detviewer.evaluation.confusion import ConfusionMatrix, confusion_cell, confusion_matrix
from detviewer.evaluation.curves import ConfidenceCurves, PRCurves, confidence_curves, pr_curves
from detviewer.evaluation.errors import ERROR_TYPES, MISSED
from detviewer.evaluation.images import ImagesTable, image_ap, images_table
from detviewer.evaluation.matching import DatasetMatching, match_any_class, match_by_class
from detviewer.evaluation.tide import TideResult, evaluate_tide

if TYPE_CHECKING:
    from detviewer.io.dataset_types import Dataset
    from detviewer.io.predictions import Predictions

__all__ = ["DatasetEvaluation", "EvaluationSnapshot", "ClassTable", "ImageHit"]


@dataclass(frozen=True, eq=False)
class ClassTable:
    """Per class (K,): ap (AP@[.5:.95]) and ap50 (COCO; -1 without GT); n_gt objects; at the threshold:
    n_det detections, tp, fp, fn, precision (1 when nothing detected), recall and f1 (-1 without GT)."""

    ap: np.ndarray
    ap50: np.ndarray
    n_gt: np.ndarray
    n_det: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


@dataclass(frozen=True)
class ImageHit:
    """The boxes of one image behind a query: detections (indices into the results) and GT boxes
    (indices into the ground truth), -1 where a side is background."""

    image: int
    detections: tuple[int, ...]
    ground_truth: tuple[int, ...]


class DatasetEvaluation:
    """Evaluation of detections ``dt`` against ``gt`` on ``num_images`` images and ``class_names``.

    gt / dt: flat boxes whose image and category indices refer to the dataset's image list and to
    ``class_names`` (see ``core.metrics``). Matchings, curves and TIDE are cached per IoU.
    """

    def __init__(self, gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, class_names: Sequence[str]) -> None:
        check_indices(gt, dt, num_images, len(class_names))
        self.gt, self.dt = gt, dt
        self.num_images, self.class_names = int(num_images), tuple(class_names)
        self._coco: CocoEvalResult | None = None
        self._pr: PRCurves | None = None
        self._cache: dict[tuple[str, float], object] = {}
        objects = ~gt.crowd
        self.n_gt = np.bincount(gt.category_index[objects], minlength=self.num_classes)[:self.num_classes]

    @classmethod
    def from_dataset(cls, dataset: Dataset, predictions: Predictions) -> DatasetEvaluation:
        """From an ``io.datasets.Dataset`` and ``io.predictions.Predictions`` over it."""
        return cls(dataset.boxes, predictions.boxes, dataset.num_images, dataset.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def coco(self) -> CocoEvalResult:
        """The COCO table, identical to pycocotools (``stats``, ``per_class_ap``)."""
        if self._coco is None:
            matches = match_detections(self.gt, self.dt, self.num_classes)
            self._coco = evaluate_bbox(self.gt, self.dt, self.num_images, self.num_classes, matches)
        return self._coco

    @property
    def pr(self) -> PRCurves:
        if self._pr is None:
            self._pr = pr_curves(self.coco)
        return self._pr

    def _cached(self, kind: str, iou: float, build: Callable[[], object]):
        key = (kind, round(float(iou), 6))
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def matching(self, iou: float = 0.5) -> DatasetMatching:
        """Class-aware matching of every detection at ``iou`` (with TIDE error types)."""
        return self._cached("class", iou, lambda: match_by_class(self.gt, self.dt, self.num_classes, iou))

    def confusion_matching(self, iou: float = 0.5) -> DatasetMatching:
        """Ultralytics' class-agnostic matching at ``iou``."""
        return self._cached("agnostic", iou, lambda: match_any_class(self.gt, self.dt, iou))

    def curves(self, iou: float = 0.5) -> ConfidenceCurves:
        """P / R / F1 against confidence at ``iou``."""
        def build():
            m = self.matching(iou)
            objects = m.gt_object
            return confidence_curves(self.dt.category_index, self.dt.scores, m.det_gt >= 0, ~m.det_ignored,
                                     self.gt.category_index[objects], self.num_classes, iou)
        return self._cached("curves", iou, build)

    def tide(self, iou: float = 0.5) -> TideResult:
        """TIDE's error breakdown with ``iou`` as its foreground threshold."""
        return self._cached("tide", iou, lambda: evaluate_tide(self.gt, self.dt, self.num_classes, iou))

    def image_ap(self, iou: float = 0.5) -> np.ndarray:
        return self._cached("image_ap", iou, lambda: image_ap(
            self.matching(iou), self.dt.image_index, self.dt.category_index, self.dt.scores, self.gt.image_index,
            self.gt.category_index, self.num_images, self.num_classes))

    def precompute(self, iou: float = 0.5) -> None:
        """Compute every threshold-free part now (for a worker thread), so that ``at`` only counts."""
        _ = self.pr
        self.curves(iou)
        self.tide(iou)
        self.image_ap(iou)
        self.confusion_matching(iou)

    def at(self, score: float, iou: float = 0.5) -> EvaluationSnapshot:
        """Everything at the operating point ``score > score`` matched at ``iou``."""
        return EvaluationSnapshot(self, float(score), float(iou))


class EvaluationSnapshot:
    """The evaluation at one score threshold and matching IoU (see the module docstring)."""

    def __init__(self, evaluation: DatasetEvaluation, score: float, iou: float) -> None:
        self.evaluation, self.score_threshold, self.iou_threshold = evaluation, score, iou
        ev, dt, gt = evaluation, evaluation.dt, evaluation.gt
        self.matching = ev.matching(iou)
        self.coco, self.pr, self.curves = ev.coco, ev.pr, ev.curves(iou)
        self.above = dt.scores > score
        k = ev.num_classes
        self.confusion: ConfusionMatrix = confusion_matrix(ev.confusion_matching(iou), dt.category_index, dt.scores,
                                                           gt.category_index, k, score)
        self.images: ImagesTable = images_table(self.matching, dt.image_index, dt.scores, gt.image_index,
                                                ev.num_images, score, ev.image_ap(iou))
        self.classes = self._class_table()

    @property
    def tide(self) -> TideResult:
        return self.evaluation.tide(self.iou_threshold)

    def _class_table(self) -> ClassTable:
        ev, m = self.evaluation, self.matching
        k, labels = ev.num_classes, ev.dt.category_index
        tp = np.bincount(labels[self.above & (m.det_gt >= 0)], minlength=k)[:k]
        fp = np.bincount(labels[self.above & m.false_positive()], minlength=k)[:k]
        n_det = np.bincount(labels[self.above], minlength=k)[:k]
        fn = ev.n_gt - tp
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        recall = np.where(ev.n_gt > 0, tp / np.maximum(ev.n_gt, 1), -1.0)
        f1 = np.where(recall >= 0, 2 * precision * recall / np.maximum(precision + recall, 1e-16), -1.0)
        return ClassTable(ap=self.coco.per_class_ap(), ap50=self.coco.per_class_ap(iou=0.5), n_gt=ev.n_gt, n_det=n_det,
                          tp=tp, fp=fp, fn=fn, precision=precision, recall=recall, f1=f1)

    # -- queries the workspace needs -----------------------------------------------------------
    def cell(self, predicted: int, true: int) -> list[ImageHit]:
        """Images and boxes behind confusion-matrix cell [predicted, true] (K = background)."""
        ev = self.evaluation
        dets, gts = confusion_cell(ev.confusion_matching(self.iou_threshold), ev.dt.category_index, ev.dt.scores,
                                   ev.gt.category_index, ev.num_classes, self.score_threshold, predicted, true)
        images = np.where(dets >= 0, ev.dt.image_index[np.maximum(dets, 0)], ev.gt.image_index[np.maximum(gts, 0)])
        return _group_by_image(images, dets, gts)

    def missed(self, class_index: int | None = None) -> list[ImageHit]:
        """Images with objects (of ``class_index``, or of any class) no detection above the threshold found."""
        gt, m = self.evaluation.gt, self.matching
        sel = m.gt_object & ~(m.gt_score > self.score_threshold)
        if class_index is not None:
            sel &= gt.category_index == class_index
        gts = np.flatnonzero(sel)
        return _group_by_image(gt.image_index[gts], np.full(len(gts), -1), gts)

    def with_error(self, error: str) -> list[ImageHit]:
        """Images with false positives of one TIDE type ("dupe", "cls", "loc", "both", "bkg"), or "missed"."""
        code = ERROR_TYPES.index(error)
        if code == MISSED:
            return self.missed()
        dt = self.evaluation.dt
        dets = np.flatnonzero(self.above & (self.matching.det_error == code))
        return _group_by_image(dt.image_index[dets], dets, np.full(len(dets), -1))

    def image_boxes(self, image: int) -> dict[str, np.ndarray]:
        """One image at this operating point: "tp" / "fp" / "ignored" detection indices, "fp_error" their
        TIDE codes, "matched_gt" the object of each TP, "missed" GT indices."""
        ev, m = self.evaluation, self.matching
        on = ev.dt.image_index == image
        mine = np.flatnonzero(on & self.above)
        fp = mine[m.false_positive()[mine]]
        gts = np.flatnonzero(ev.gt.image_index == image)
        tp = mine[m.det_gt[mine] >= 0]
        return {"tp": tp, "matched_gt": m.det_gt[tp], "fp": fp, "fp_error": m.det_error[fp],
                "ignored": mine[m.det_ignored[mine]],
                "missed": gts[m.gt_object[gts] & ~(m.gt_score[gts] > self.score_threshold)]}


def _group_by_image(images: np.ndarray, dets: np.ndarray, gts: np.ndarray) -> list[ImageHit]:
    order = np.argsort(images, kind="stable")
    images, dets, gts = images[order], dets[order], gts[order]
    cuts = np.flatnonzero(np.r_[True, images[1:] != images[:-1]]) if len(images) else np.zeros(0, np.int64)
    ends = np.r_[cuts[1:], len(images)]
    return [ImageHit(int(images[a]), tuple(int(d) for d in dets[a:b]), tuple(int(g) for g in gts[a:b]))
            for a, b in zip(cuts, ends)]
