"""Ground truth over the detections view (Qt-free): GT boxes, misses and false positives as layers.

With ground truth for the frame, the final detections are matched to it as COCO does
(``core.matching``). Each false positive gets a red dashed outline and a label saying why it is
one (a duplicate, the wrong class, a box too loose, or background); each object no detection
found an orange dashed one with "missed <class>" written under it; every GT box is drawn thin and
white underneath, crowd regions dashed. Objects of classes the model does not have are drawn but
not counted as missed. While stepping through NMS only the GT boxes are drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from detviewer.core.matching import GtMatch

# TIDE's error types, as the dataset evaluation and a confusion cell's boxes
from detviewer.evaluation.errors import explain_false_positives, false_positive_reasons
from detviewer.render.model.nms_layers import MAX_LABELS
from detviewer.render.model.primitives import BoxLayer, Layer, TextLayer, solid
from detviewer.state.nms_replay import NMSReplay

if TYPE_CHECKING:
    from detviewer.io.image_gt import ImageBoxes

__all__ = ["ground_truth_layers", "match_summary", "false_positive_reasons", "MISSED", "FALSE_POSITIVE", "GT_IOU"]

MISSED = (255, 150, 0)
FALSE_POSITIVE = (255, 40, 40)
GT_WHITE = (255, 255, 255)
GT_IOU = 0.5  # the IoU a detection needs to count as finding an object (COCO's AP50, VOC)


def match_summary(match: GtMatch, gt: ImageBoxes) -> str:
    """"TP 3 · FP 1 · missed 0 at IoU ≥ 0.5", and how many objects are of classes the model lacks."""
    unknown = int((gt.labels < 0).sum())
    note = f" ({unknown} object{'s' if unknown > 1 else ''} of classes this model does not have)" if unknown else ""
    return match.summary() + note


def ground_truth_layers(replay: NMSReplay, gt: ImageBoxes | None, *, stepping: bool = False,
                        iou_threshold: float = GT_IOU) -> tuple[list[Layer], GtMatch | None]:
    """(layers, match) for ``gt`` (an ``io.image_gt.ImageBoxes`` or None) and the replay's final detections.

    match is None while stepping or without ground truth. An image listed in the ground truth with no
    objects still has one: every detection on it is a false positive.
    """
    if gt is None:
        return [], None
    layers: list[Layer] = []
    objects = gt.objects
    crowd_all = ~objects  # gt.crowd, never None once built
    if objects.any():
        layers.append(BoxLayer("ground_truth", gt.xyxy[objects], solid(GT_WHITE, int(objects.sum())),
                               np.flatnonzero(objects), width=1.5, alpha=200))
    if crowd_all.any():
        layers.append(BoxLayer("crowd_regions", gt.xyxy[crowd_all], solid(GT_WHITE, int(crowd_all.sum())),
                               np.flatnonzero(crowd_all), width=1.0, alpha=140, dashed=True))
    if stepping:
        return layers, None
    kept = replay.keep
    cand = replay.candidates
    known = gt.labels >= 0  # a class the model does not have cannot be missed by it
    xyxy, labels, crowd = gt.xyxy[known], gt.labels[known], crowd_all[known]
    names = tuple(n for n, k in zip(gt.names, known) if k)
    match, why = explain_false_positives(cand.xyxy[kept], replay.scores[kept], cand.labels[kept], xyxy, labels,
                                         names, crowd, iou_threshold)
    fp = kept[match.fp]
    if len(fp):
        reasons = [why[int(j)] for j in np.flatnonzero(match.fp)]
        texts = tuple(f"FP {cand.name_of(cand.labels[i])} {replay.scores[i]:.2f}: {reason}"
                      for i, reason in zip(fp[:MAX_LABELS], reasons))
        layers.append(BoxLayer("false_positive", cand.xyxy[fp], solid(FALSE_POSITIVE, len(fp)), fp,
                               labels=texts, width=3.0, dashed=True))
    missed = np.flatnonzero(match.missed)
    if len(missed):
        layers.append(BoxLayer("missed", xyxy[missed], solid(MISSED, len(missed)), missed, width=3.0,
                               dashed=True))
        shown = missed[:MAX_LABELS]
        under = np.stack([xyxy[shown, 0], xyxy[shown, 3] + 2], axis=1)  # below the box: its top is busy
        layers.append(TextLayer("missed_labels", under, tuple(f"missed {names[i]}" for i in shown),
                                solid(MISSED, len(shown)), size=11.0))
    return layers, match
