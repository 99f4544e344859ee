"""What box regression computes for one reference box (an anchor, or a two-stage model's proposal), from the
model's own outputs and BoxCoder weights, and the training target t* its ground truth gives (Qt-free).

Anchors: the RPN / one-stage head's deltas (AnchorSet.deltas, BoxCoder weights AnchorSet.delta_weights).
Proposals: the box head's deltas for one class (Proposals.class_deltas, the "box_head" MatchRule's weights,
(10, 10, 5, 5) in torchvision). Dividing the head's output by the weights gives the lecture's
t = (tx, ty, tw, th) = ((x − xₐ)/wₐ, (y − yₐ)/hₐ, log(w/wₐ), log(h/hₐ)); the target t* is the same encoding
of the matched ground-truth box (ops.regression.regression_targets, torchvision's BoxCoder.encode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Inference, MatchRule
from detviewer.render.model.geometry import split_index
from detviewer.render.model.primitives import ViewError, fmt_int, memo
from detviewer.render.model.views.training_labels import anchor_rule, label_anchors, model_rule

__all__ = ["BoxRegression", "RegressionTarget", "anchor_regression", "proposal_regression", "decode_all",
           "best_anchor_for", "decode_proposals", "proposal_for_detection", "regression_target", "has_box_head",
           "require_deltas"]


@dataclass(frozen=True, eq=False)
class BoxRegression:
    """One reference box and what the head makes of it, original pixels.

    kind: "anchor" or "proposal"; index: flat anchor index (over all levels) or proposal index; level: the
    anchor's level (-1 for a proposal); label: the class whose box-head deltas are applied (-1 for anchors);
    box (4,) float32 xyxy the reference; raw_deltas (4,) the head's output (weighted codes); weights (4,) the
    BoxCoder weights; deltas (4,) = raw_deltas / weights, the lecture's t; decoded (4,) the box they give.
    """

    kind: str
    index: int
    level: int
    label: int
    box: np.ndarray
    raw_deltas: np.ndarray
    weights: np.ndarray
    deltas: np.ndarray
    decoded: np.ndarray


@dataclass(frozen=True, eq=False)
class RegressionTarget:
    """The training target of a reference box: the ground-truth box it is matched to (gt_index, gt_box (4,)),
    their IoU, whether the model's rule makes the reference positive (only positives are regressed), the
    rule, t_star (4,) the lecture's target, encoded (4,) = t_star · weights (what the loss compares with the
    head's output) and residual (4,) = t* − t."""

    gt_index: int
    gt_box: np.ndarray
    iou: float
    positive: bool
    rule: MatchRule | None
    t_star: np.ndarray
    encoded: np.ndarray
    residual: np.ndarray


def require_deltas(inference: Inference) -> None:
    if not inference.anchors or any(a.deltas is None for a in inference.anchors):
        raise ViewError(f"{inference.model_name} gives no per-anchor box deltas (it is not an anchor-based "
                        "detector, or it regresses distances like FCOS); the regression view needs one that does.")


def has_box_head(inference: Inference) -> bool:
    """A two-stage model whose box head's per-proposal deltas were captured."""
    p = inference.proposals
    return p is not None and p.class_deltas is not None and len(p) > 0 and model_rule(inference, "box_head") is not None


def anchor_regression(inference: Inference, flat: int) -> BoxRegression:
    """The head's deltas for anchor ``flat`` (index over all levels) and the box they decode to."""
    from detviewer.ops.regression import decode_deltas

    require_deltas(inference)
    if not 0 <= flat < inference.anchor_count:
        raise ViewError(f"anchor {flat} does not exist ({fmt_int(inference.anchor_count)} anchors).")
    level, i = split_index(inference, int(flat))
    anchors = inference.anchors[level]
    weights = np.asarray(anchors.delta_weights, np.float32)
    raw = anchors.deltas[i].astype(np.float32)
    decoded = decode_deltas(anchors.boxes[i][None], raw[None], anchors.delta_weights)[0]
    return BoxRegression("anchor", int(flat), level, -1, anchors.boxes[i].copy(), raw, weights, raw / weights, decoded)


def proposal_regression(inference: Inference, index: int, label: int | None = None) -> BoxRegression:
    """The box head's deltas for proposal ``index`` and class ``label`` (default: its most likely object class)."""
    from detviewer.ops.regression import decode_deltas

    if not has_box_head(inference):
        raise ViewError(f"{inference.model_name} has no box head refining proposals; choose the anchor stage.")
    p = inference.proposals
    if not 0 <= index < len(p):
        raise ViewError(f"proposal {index} does not exist ({len(p)} proposals).")
    if label is None:
        label = int(np.argmax(p.class_scores[index, 1:])) + 1
    weights = np.asarray(model_rule(inference, "box_head").box_weights, np.float32)
    raw = p.class_deltas[index, int(label)].astype(np.float32)
    decoded = decode_deltas(p.xyxy[index][None], raw[None], tuple(weights.tolist()))[0]
    return BoxRegression("proposal", int(index), -1, int(label), p.xyxy[index].copy(), raw, weights, raw / weights,
                         decoded)


def decode_all(inference: Inference) -> np.ndarray:
    """(K, 4) float32: every anchor decoded with the head's own deltas (flat order)."""
    from detviewer.ops.regression import decode_deltas

    require_deltas(inference)
    return memo(inference, ("decode_all",), lambda: np.concatenate(
        [decode_deltas(a.boxes, a.deltas, a.delta_weights) for a in inference.anchors]))


def best_anchor_for(inference: Inference, box_xyxy) -> tuple[int, float]:
    """(flat anchor index, IoU): the anchor whose decoded box overlaps ``box_xyxy`` (4,) most. Memoised per
    Inference and box (it decodes every anchor)."""
    from detviewer.ops.boxes import box_iou_np

    box = np.asarray(box_xyxy, np.float32).reshape(1, 4)

    def compute() -> tuple[int, float]:
        ious = box_iou_np(box, decode_all(inference))[0]
        best = int(np.argmax(ious))
        return best, float(ious[best])

    return memo(inference, ("best_anchor_for", box.tobytes()), compute)


def decode_proposals(inference: Inference, label: int) -> np.ndarray:
    """(N, 4) float32: every proposal decoded with the box head's deltas for class ``label``, clipped to the
    image as torchvision's postprocess does (decoding commutes with the resize, so original pixels serve)."""
    from detviewer.ops.regression import decode_deltas

    p = inference.proposals
    weights = model_rule(inference, "box_head").box_weights
    boxes = decode_deltas(p.xyxy, p.class_deltas[:, int(label)], weights)
    height, width = inference.image_size
    return np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)


def proposal_for_detection(inference: Inference, detection: int) -> tuple[int, float]:
    """(proposal index, IoU): the proposal whose box-head decoding for the detection's class gives the detection.
    Memoised per Inference (it decodes every proposal)."""
    from detviewer.ops.boxes import box_iou_np

    det = inference.detections

    def compute() -> tuple[int, float]:
        label = int(det.labels[detection])
        ious = box_iou_np(det.xyxy[detection][None], decode_proposals(inference, label))[0]
        best = int(np.argmax(ious))
        return best, float(ious[best])

    return memo(inference, ("proposal_for_detection", int(detection)), compute)


def _matched(inference: Inference, reg: BoxRegression,
             gt_boxes: np.ndarray) -> tuple[int, float, bool, MatchRule | None]:
    """(GT index, IoU, positive under the model's rule, the rule) for the reference box."""
    from detviewer.ops.boxes import box_iou_np

    ious = box_iou_np(reg.box[None], gt_boxes)[0]
    best = int(np.argmax(ious))
    if reg.kind == "anchor":
        rule = anchor_rule(inference)
        if rule is not None:
            labels = label_anchors(inference, gt_boxes, rule)
            if labels.labels[reg.index] == 1:
                return int(labels.matched_gt[reg.index]), float(ious[labels.matched_gt[reg.index]]), True, rule
            return best, float(ious[best]), False, rule
        return best, float(ious[best]), False, None
    rule = model_rule(inference, "box_head")
    return best, float(ious[best]), bool(ious[best] >= rule.fg_iou), rule


def regression_target(inference: Inference, reg: BoxRegression, gt_boxes) -> RegressionTarget | None:
    """The target t* of ``reg`` from ground truth (M, 4) xyxy original pixels; None without ground truth.

    The ground-truth box is the one the model's rule matches the reference to; a reference the rule makes
    negative (no target in training) is given its best-overlapping object, flagged ``positive=False``."""
    from detviewer.ops.regression import encode_deltas, regression_targets

    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    if len(gt_boxes) == 0:
        return None
    index, iou, positive, rule = _matched(inference, reg, gt_boxes)
    weights = tuple(float(w) for w in reg.weights)
    t_star = regression_targets(reg.box[None], gt_boxes[index][None], weights)[0]
    encoded = encode_deltas(reg.box[None], gt_boxes[index][None], weights)[0]
    return RegressionTarget(index, gt_boxes[index].copy(), iou, positive, rule, t_star, encoded, t_star - reg.deltas)
