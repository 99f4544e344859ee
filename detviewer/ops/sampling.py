"""Training-time labelling and sampling of boxes: the classic papers' rules and the loaded model's own.

- R-CNN fine-tuning (Girshick et al. 2014): a region is positive for the class of a ground-truth box it
  overlaps with IoU >= 0.5, background otherwise; each minibatch of 128 takes 32 positives and 96 background
  regions, uniformly.
- Fast R-CNN (Girshick 2015): 64 RoIs per image (128 per minibatch of 2 images), 25 % foreground at
  IoU >= 0.5; background from IoU in [0.1, 0.5); below 0.1 unused. Its sampler is the same as torchvision's
  ``BalancedPositiveNegativeSampler(64, 0.25)`` (background fills what foreground leaves).
- A model's own ``MatchRule`` (core.types): its Matcher / SSDMatcher thresholds and its sampler, rebuilt from
  the numbers read from the loaded model and run through torchvision's classes.

Boxes are (N, 4) xyxy pixels; labels (N,) int8: 1 positive, 0 negative (background), -1 unused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from torchvision.models.detection._utils import Matcher, SSDMatcher

from detviewer.core.types import MatchRule
from detviewer.ops.assign import _match, sample_rpn_minibatch

__all__ = ["Sample", "matcher_for", "match_with_rule", "sample_with_rule", "rcnn_labels", "fast_rcnn_labels",
           "sample_rcnn", "sample_fast_rcnn", "sample_uniform", "sample_model", "RCNN_BATCH", "FAST_RCNN_ROIS"]

#: R-CNN fine-tuning: (positives, background) per minibatch of 128.
RCNN_BATCH = (32, 96)
#: Fast R-CNN: RoIs per image and the foreground fraction.
FAST_RCNN_ROIS = (64, 0.25)


@dataclass(frozen=True, eq=False)
class Sample:
    """One image's labels and the boxes one training step draws.

    labels (N,) int8 1 / 0 / -1; matched_gt (N,) int64 (-1: none); max_iou (N,) float32 best IoU with
    any ground-truth box; positive / negative (P,), (Q,) int64 indices drawn, ascending.
    """

    labels: np.ndarray
    matched_gt: np.ndarray
    max_iou: np.ndarray
    positive: np.ndarray
    negative: np.ndarray


def matcher_for(rule: MatchRule) -> Matcher:
    """torchvision's matcher with the rule's thresholds (an SSDMatcher for SSD)."""
    if rule.matcher == "SSDMatcher":
        return SSDMatcher(rule.fg_iou)
    return Matcher(rule.fg_iou, rule.bg_iou, allow_low_quality_matches=rule.low_quality)


def match_with_rule(boxes: ArrayLike, gt_boxes: ArrayLike, rule: MatchRule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels (N,) int8, matched_gt (N,) int64, max_iou (N,) float32) of ``boxes`` under ``rule``'s matcher,
    as the model's training computes them (IoU of boxes and gt_boxes (M, 4) xyxy pixels)."""
    return _match(boxes, gt_boxes, matcher_for(rule))


def sample_with_rule(labels: ArrayLike, rule: MatchRule, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (positive, negative) indices one training step of the model draws: its sampler when it has one
    (``batch_size`` > 0), else every positive and every negative."""
    labels = np.asarray(labels).reshape(-1)
    if rule.batch_size <= 0:
        return np.flatnonzero(labels == 1).astype(np.int64), np.flatnonzero(labels == 0).astype(np.int64)
    return sample_rpn_minibatch(labels, rule.batch_size, rule.positive_fraction, seed=seed)


def rcnn_labels(max_iou: ArrayLike, fg_iou: float = 0.5) -> np.ndarray:
    """R-CNN fine-tuning: 1 where the best IoU with a ground-truth box is >= fg_iou, else 0 (background)."""
    return np.where(np.asarray(max_iou) >= fg_iou, 1, 0).astype(np.int8)


def fast_rcnn_labels(max_iou: ArrayLike, fg_iou: float = 0.5, bg_low: float = 0.1) -> np.ndarray:
    """Fast R-CNN: 1 at IoU >= fg_iou, 0 (background) in [bg_low, fg_iou), -1 (unused) below bg_low."""
    max_iou = np.asarray(max_iou)
    labels = np.full(max_iou.shape, -1, np.int8)
    labels[max_iou >= bg_low] = 0
    labels[max_iou >= fg_iou] = 1
    return labels


def sample_uniform(labels: ArrayLike, positives: int, negatives: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``positives`` of the label-1 and up to ``negatives`` of the label-0 indices, uniformly without
    replacement (a fixed split, as R-CNN's 32 + 96); ascending."""
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)

    def draw(pool: np.ndarray, k: int) -> np.ndarray:
        return np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False)).astype(np.int64)

    return draw(np.flatnonzero(labels == 1), positives), draw(np.flatnonzero(labels == 0), negatives)


def _max_iou(boxes: ArrayLike, gt_boxes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    from detviewer.ops.boxes import box_iou_np

    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    if len(gt_boxes) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), np.float32), np.full(len(boxes), -1, np.int64)
    iou = box_iou_np(boxes, gt_boxes)
    return iou.max(axis=1).astype(np.float32), iou.argmax(axis=1).astype(np.int64)


def sample_rcnn(boxes: ArrayLike, gt_boxes: ArrayLike, seed: int = 0, batch: tuple[int, int] = RCNN_BATCH) -> Sample:
    """R-CNN's fine-tuning labels and one minibatch's draw from this image's regions."""
    max_iou, best = _max_iou(boxes, gt_boxes)
    labels = rcnn_labels(max_iou)
    positive, negative = sample_uniform(labels, batch[0], batch[1], seed)
    return Sample(labels, np.where(labels == 1, best, -1), max_iou, positive, negative)


def sample_fast_rcnn(boxes: ArrayLike, gt_boxes: ArrayLike, seed: int = 0, rois: tuple[int, float] = FAST_RCNN_ROIS) -> Sample:
    """Fast R-CNN's labels and the RoIs one image contributes to a minibatch."""
    max_iou, best = _max_iou(boxes, gt_boxes)
    labels = fast_rcnn_labels(max_iou)
    positive, negative = sample_rpn_minibatch(labels, rois[0], rois[1], seed=seed)
    return Sample(labels, np.where(labels == 1, best, -1), max_iou, positive, negative)


def sample_model(boxes: ArrayLike, gt_boxes: ArrayLike, rule: MatchRule, seed: int = 0) -> Sample:
    """The model's own labels (``rule``'s matcher) and one training step's draw (its sampler)."""
    labels, matched, max_iou = match_with_rule(boxes, gt_boxes, rule)
    positive, negative = sample_with_rule(labels, rule, seed)
    return Sample(labels, matched, max_iou, positive, negative)
