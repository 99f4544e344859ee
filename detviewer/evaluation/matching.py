"""Every detection of a dataset matched once per IoU, so that any score threshold is a cheap mask.

Greedy matching handles detections in falling score order, so the matches of the detections
scoring above a threshold t do not depend on those below it: matching everything once and then
keeping ``score > t`` gives exactly the matching of the thresholded detections. Two matchings:

- :func:`match_by_class` - pycocotools' rules at one IoU (a detection takes the free object of its
  class with the highest IoU >= the threshold; crowd regions absorb detections, never missed), no
  per-image detection limit, as the window matches one image (``core.matching``). Each false
  positive gets its TIDE error type (:mod:`detviewer.evaluation.errors`).
- :func:`match_any_class` - Ultralytics' ``ConfusionMatrix.process_batch`` (8.4): class-agnostic,
  each detection in falling confidence takes the free object with the highest IoU > the threshold
  (strict; the first object on ties), so a detection on an object of another class is a confusion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.coco_eval import match_detections
from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.errors import classify_overlaps
from detviewer.evaluation.pairs import best_per_detection, greedy_match, rank_in_group, same_image_pairs

__all__ = ["DatasetMatching", "match_by_class", "match_any_class"]

_ALL_AREAS = (("all", 0.0, 1e10),)


@dataclass(frozen=True, eq=False)
class DatasetMatching:
    """One matching of all detections at ``iou_threshold`` (D detections, N GT boxes).

    det_gt (D,) int64: the GT box each detection matched, or -1; det_ignored (D,) bool: on a crowd
    region (neither true nor false positive); det_error (D,) int8: TIDE error code of each false
    positive, -1 otherwise (class matching only; all -1 for the class-agnostic one).
    gt_score (N,) float64: score of the detection that matched each GT box (-inf: none);
    gt_object (N,) bool: GT boxes that are objects (not crowd regions).
    """

    iou_threshold: float
    det_gt: np.ndarray
    det_ignored: np.ndarray
    det_error: np.ndarray
    gt_score: np.ndarray
    gt_object: np.ndarray

    def true_positive(self) -> np.ndarray:
        return self.det_gt >= 0

    def false_positive(self) -> np.ndarray:
        return (self.det_gt < 0) & ~self.det_ignored


def _gt_scores(det_gt: np.ndarray, scores: np.ndarray, num_gt: int) -> np.ndarray:
    out = np.full(num_gt, -np.inf)
    hit = det_gt >= 0
    out[det_gt[hit]] = scores[hit]
    return out


def match_by_class(gt: GroundTruthBoxes, dt: DetectionBoxes, num_categories: int, iou_threshold: float
                   ) -> DatasetMatching:
    """pycocotools' matching at one IoU over every detection, with TIDE error types for the false positives."""
    m = match_detections(gt, dt, num_categories, [iou_threshold], max_dets=None, area_ranges=_ALL_AREAS)
    det_gt = np.full(len(dt), -1, np.int64)
    ignored = np.zeros(len(dt), bool)
    hit = m.matched_gt[0, 0]
    crowd_hit = m.det_ignore[0, 0]
    det_gt[m.det] = np.where(crowd_hit, -1, hit)
    ignored[m.det] = crowd_hit
    errors = _error_types(gt, dt, det_gt, ignored, iou_threshold)
    return DatasetMatching(float(iou_threshold), det_gt, ignored, errors, _gt_scores(det_gt, dt.scores, len(gt)),
                           ~gt.crowd)


def _error_types(gt: GroundTruthBoxes, dt: DetectionBoxes, det_gt: np.ndarray, ignored: np.ndarray,
                 iou_threshold: float) -> np.ndarray:
    """(D,) TIDE error code of every false positive (-1 for the others)."""
    fp = np.flatnonzero((det_gt < 0) & ~ignored)
    codes = np.full(len(dt), -1, np.int8)
    if not fp.size:
        return codes
    objects = np.flatnonzero(~gt.crowd)
    img = dt.image_index[fp]
    pd, pg, piou = same_image_pairs(img, dt.xywh[fp], gt, objects)
    same = dt.category_index[fp][pd] == gt.category_index[pg]
    taken = np.zeros(len(gt), bool)
    taken[det_gt[det_gt >= 0]] = True
    n = len(fp)
    has_objects = np.bincount(gt.image_index[objects], minlength=int(img.max()) + 1)[img] > 0
    codes[fp] = classify_overlaps(best_per_detection(pd, pg, piou, same, n)[0],
                                  best_per_detection(pd, pg, piou, ~same, n)[0],
                                  best_per_detection(pd, pg, piou, same & taken[pg], n)[0],
                                  best_per_detection(pd, pg, piou, np.ones_like(same), n)[0],
                                  has_objects, iou_threshold)
    return codes


def match_any_class(gt: GroundTruthBoxes, dt: DetectionBoxes, iou_threshold: float) -> DatasetMatching:
    """Ultralytics' confusion-matrix matching (class-agnostic, IoU > threshold) over every detection.

    Crowd regions are no objects: a detection left unmatched whose intersection with a crowd region
    of its class exceeds the threshold times its own area is ignored, as COCO ignores it.
    """
    n = len(dt)
    order = np.lexsort((np.arange(n), -dt.scores, dt.image_index))
    img = dt.image_index[order]
    objects = np.flatnonzero(~gt.crowd)
    pd, pg, piou = same_image_pairs(img, dt.xywh[order], gt, objects)
    matched = greedy_match(pd, pg, piou, piou > iou_threshold, rank_in_group(img), n, len(gt))
    det_gt = np.full(n, -1, np.int64)
    det_gt[order] = matched
    ignored = np.zeros(n, bool)
    crowds = np.flatnonzero(gt.crowd)
    if crowds.size:
        cd, cg, ciou = same_image_pairs(img, dt.xywh[order], gt, crowds, crowd=True)
        hit = (ciou > iou_threshold) & (dt.category_index[order][cd] == gt.category_index[cg]) & (matched[cd] < 0)
        ignored[order[cd[hit]]] = True
    return DatasetMatching(float(iou_threshold), det_gt, ignored, np.full(n, -1, np.int8),
                           _gt_scores(det_gt, dt.scores, len(gt)), ~gt.crowd)
