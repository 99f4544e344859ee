"""Ground truth over the detections view (Qt-free): GT boxes, misses and false positives as layers.

With ground truth for the frame, the final detections are matched to it as COCO does
(``core.matching``). Each false positive gets a red dashed outline and a label saying why it is
one (a duplicate, the wrong class, a box too loose, or background); each object no detection
found an orange dashed outline with "missed <class>" written under it; every GT box is drawn
thin and white underneath. While stepping through NMS only the GT boxes are drawn.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.matching import GtMatch, _iou_matrix, match_to_ground_truth
from detviewer.core.session import Session
from detviewer.render.layers import MAX_LABELS, BoxLayer
from detviewer.render.views.primitives import TextLayer

__all__ = ["ground_truth_layers", "false_positive_reasons", "MISSED", "FALSE_POSITIVE", "GT_IOU"]

MISSED = (255, 150, 0)
FALSE_POSITIVE = (255, 40, 40)
GT_WHITE = (255, 255, 255)
GT_IOU = 0.5  # the IoU a detection needs to count as finding an object (COCO's AP50, VOC)
LOOSE_IOU = 0.1  # below this a false positive is "background", above it a box too loose


def _solid(color, n: int) -> np.ndarray:
    return np.tile(np.asarray(color, np.uint8), (n, 1))


def false_positive_reasons(det_xyxy, det_labels, match: GtMatch, gt) -> list[str]:
    """Why each unmatched detection is a false positive, in a few words.

    det_xyxy (D, 4) / det_labels (D,) the matched detections; gt an ``io.image_gt.ImageBoxes``.
    "duplicate" (its object was found by a higher-scoring box), "a <class>" (it sits on an object
    of another class), "IoU 0.32" (its object, boxed too loosely), "background" (no object).
    """
    ious = _iou_matrix(np.asarray(det_xyxy, np.float64).reshape(-1, 4), gt.xyxy.astype(np.float64))
    reasons = []
    for i in np.flatnonzero(~match.tp):
        same = gt.labels == det_labels[i]
        row = ious[i]
        if (same & (row >= match.iou_threshold)).any():
            reasons.append("duplicate")
        elif ((~same) & (row >= match.iou_threshold)).any():
            reasons.append(f"a {gt.names[int(np.argmax(np.where(~same, row, -1)))]}")
        elif (same & (row >= LOOSE_IOU)).any():
            reasons.append(f"IoU {row[same].max():.2f}")
        else:
            reasons.append("background")
    return reasons


def ground_truth_layers(session: Session, gt, iou_threshold: float = GT_IOU) -> tuple[list, GtMatch | None]:
    """(layers, match) for ``gt`` (an ``io.image_gt.ImageBoxes`` or None) and the session's detections.

    match is None while stepping, without an inference, or without ground truth.
    """
    if gt is None or not len(gt):
        return [], None
    layers: list = [BoxLayer("ground_truth", gt.xyxy, _solid(GT_WHITE, len(gt)), np.arange(len(gt)), width=1.5,
                             alpha=200)]
    if session.trace is None or session.is_stepping:
        return layers, None
    kept = session.kept()
    cand = session.candidates
    scores = session.trace.scores[kept]
    match = match_to_ground_truth(cand.xyxy[kept], scores, cand.labels[kept], gt.xyxy, gt.labels, iou_threshold)
    fp = kept[~match.tp]
    if len(fp):
        reasons = false_positive_reasons(cand.xyxy[kept], cand.labels[kept], match, gt)
        texts = tuple(f"FP {cand.name_of(cand.labels[i])} {session.trace.scores[i]:.2f}: {why}"
                      for i, why in zip(fp[:MAX_LABELS], reasons))
        layers.append(BoxLayer("false_positive", cand.xyxy[fp], _solid(FALSE_POSITIVE, len(fp)), fp,
                               labels=texts, width=3.0, dashed=True))
    missed = np.flatnonzero(match.missed)
    if len(missed):
        layers.append(BoxLayer("missed", gt.xyxy[missed], _solid(MISSED, len(missed)), missed, width=3.0,
                               dashed=True))
        shown = missed[:MAX_LABELS]
        under = np.stack([gt.xyxy[shown, 0], gt.xyxy[shown, 3] + 2], axis=1)  # below the box: its top is busy
        layers.append(TextLayer("missed_labels", under, tuple(f"missed {gt.names[i]}" for i in shown),
                                _solid(MISSED, len(shown)), size=11.0))
    return layers, match
