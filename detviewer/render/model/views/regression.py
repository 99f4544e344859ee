"""Box regression view: how the head moves one anchor (or the anchor behind a proposal / detection).

Deltas are the model's own (AnchorSet.deltas, encoded with torchvision's BoxCoder and the
model's weights); dividing by the weights gives the lecture's
(dx, dy, dw, dh) = ((x − xa)/wa, (y − ya)/ha, log(w/wa), log(h/ha)), and core.regression
decodes them. For a proposal or a detection, the anchor shown is the one whose decoded box
overlaps it most (for one-stage models and RPN proposals that is the anchor that produced it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Inference
from detviewer.render.model.colors import SELECT
from detviewer.render.model.geometry import split_index
from detviewer.render.model.spec import Prepare, ViewRequest, ViewSpec
from detviewer.render.model.primitives import (
    ARROW, GT_COLOR, POSITIVE, TEXT, BoxLayer, SegmentLayer, TextLayer, ViewError, ViewFrame, as_gt,
    cross_segments, fmt_int, gt_layer, solid,
)

__all__ = ["RegressionViewState", "AnchorRegression", "anchor_regression", "decode_all", "best_anchor_for",
           "regression_frame", "regression_steps", "STEP_NAMES"]

STEP_NAMES = ("Anchor", "Deltas", "Decoded box")


@dataclass(frozen=True)
class RegressionViewState:
    """Which box to explain, first match wins: ``detection`` (index into inference.detections),
    ``proposal`` (index into inference.proposals), ``anchor`` (flat index over all levels); none:
    the anchor with the highest score. step: lecture step 0 anchor, 1 deltas, 2 decoded box
    (None shows everything); anchor_match: ``best_anchor_for`` the chosen box, when computed beforehand
    (it decodes every anchor, so the window computes it off the GUI thread)."""

    anchor: int | None = None
    proposal: int | None = None
    detection: int | None = None
    step: int | None = None
    anchor_match: tuple[int, float] | None = None


@dataclass(frozen=True, eq=False)
class AnchorRegression:
    """One anchor's regression, original pixels.

    anchor / decoded (4,) float32 xyxy; raw_deltas (4,) what the head output (weighted codes);
    weights (4,) the BoxCoder weights; deltas (4,) = raw_deltas / weights, the lecture's numbers.
    """

    index: int
    level: int
    anchor: np.ndarray
    raw_deltas: np.ndarray
    weights: np.ndarray
    deltas: np.ndarray
    decoded: np.ndarray


def _require_deltas(inference: Inference) -> None:
    if not inference.anchors or any(a.deltas is None for a in inference.anchors):
        raise ViewError(f"{inference.model_name} gives no per-anchor box deltas (it is not an anchor-based "
                        "detector, or it regresses distances like FCOS); the regression view needs one that does.")


def anchor_regression(inference: Inference, flat: int) -> AnchorRegression:
    """The head's deltas for anchor ``flat`` (index over all levels) and the box they decode to."""
    from detviewer.ops.regression import decode_deltas

    _require_deltas(inference)
    level, i = split_index(inference, int(flat))
    anchors = inference.anchors[level]
    weights = np.asarray(anchors.delta_weights, np.float32)
    raw = anchors.deltas[i].astype(np.float32)
    decoded = decode_deltas(anchors.boxes[i][None], raw[None], anchors.delta_weights)[0]
    return AnchorRegression(int(flat), level, anchors.boxes[i].copy(), raw, weights, raw / weights, decoded)


def decode_all(inference: Inference) -> np.ndarray:
    """(K, 4) float32: every anchor decoded with the head's own deltas (flat order)."""
    from detviewer.ops.regression import decode_deltas

    _require_deltas(inference)
    return np.concatenate([decode_deltas(a.boxes, a.deltas, a.delta_weights) for a in inference.anchors])


def best_anchor_for(inference: Inference, box_xyxy) -> tuple[int, float]:
    """(flat anchor index, IoU): the anchor whose decoded box overlaps ``box_xyxy`` (4,) most."""
    from detviewer.ops.boxes import box_iou_np

    ious = box_iou_np(np.asarray(box_xyxy, np.float32).reshape(1, 4), decode_all(inference))[0]
    best = int(np.argmax(ious))
    return best, float(ious[best])


def regression_steps(inference: Inference, gt=None) -> int:
    """Lecture steps: the anchor, its deltas, the decoded box."""
    return len(STEP_NAMES)


def _target(inference: Inference, state: RegressionViewState) -> tuple[np.ndarray | None, str]:
    if state.detection is not None:
        det = inference.detections
        if not 0 <= state.detection < len(det):
            raise ViewError(f"detection {state.detection} does not exist ({len(det)} detections).")
        i = int(state.detection)
        return det.xyxy[i], f"detection {i}: {det.name_of(det.labels[i])} {det.scores[i]:.2f}"
    if state.proposal is not None:
        props = inference.proposals
        if props is None or not 0 <= state.proposal < len(props):
            count = 0 if props is None else len(props)
            raise ViewError(f"proposal {state.proposal} does not exist ({count} proposals).")
        i = int(state.proposal)
        return props.xyxy[i], f"proposal {i}: objectness {props.objectness[i]:.2f}"
    return None, ""


def _default_anchor(inference: Inference) -> int:
    if all(a.objectness is not None for a in inference.anchors):
        return int(np.argmax(np.concatenate([a.objectness for a in inference.anchors])))
    return 0


def _formula_rows(r: AnchorRegression) -> list[tuple[str, str]]:
    x1, y1, x2, y2 = r.anchor.tolist()
    wa, ha = x2 - x1, y2 - y1
    xa, ya = x1 + wa / 2, y1 + ha / 2
    dx, dy, dw, dh = r.deltas.tolist()
    def plus(v: float) -> str:
        return f"{'+' if v >= 0 else '−'} {abs(v):.3f}"

    return [("x = xa + dx·wa", f"{xa:.1f} {plus(dx)}·{wa:.1f} = {xa + dx * wa:.1f}"),
            ("y = ya + dy·ha", f"{ya:.1f} {plus(dy)}·{ha:.1f} = {ya + dy * ha:.1f}"),
            ("w = wa·exp(dw)", f"{wa:.1f}·exp({dw:+.3f}) = {wa * math.exp(dw):.1f}"),
            ("h = ha·exp(dh)", f"{ha:.1f}·exp({dh:+.3f}) = {ha * math.exp(dh):.1f}")]


def _centre(box: np.ndarray) -> tuple[float, float]:
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2


def regression_frame(inference: Inference, state: RegressionViewState = RegressionViewState(), gt=None) -> ViewFrame:
    """The regression view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    from detviewer.ops.boxes import box_iou_np
    from detviewer.ops.regression import ROI_HEAD_WEIGHTS, encode_deltas

    _require_deltas(inference)
    gt = as_gt(gt)
    target, target_text = _target(inference, state)
    if target is not None:
        flat, _ = state.anchor_match if state.anchor_match is not None else best_anchor_for(inference, target)
    elif state.anchor is not None:
        if not 0 <= state.anchor < inference.anchor_count:
            raise ViewError(f"anchor {state.anchor} does not exist ({fmt_int(inference.anchor_count)} anchors).")
        flat = int(state.anchor)
    else:
        flat = _default_anchor(inference)
    r = anchor_regression(inference, flat)
    step = len(STEP_NAMES) - 1 if state.step is None else min(max(int(state.step), 0), len(STEP_NAMES) - 1)

    wa, ha = float(r.anchor[2] - r.anchor[0]), float(r.anchor[3] - r.anchor[1])
    ca, cd = _centre(r.anchor), _centre(r.decoded)
    dx, dy, dw, dh = r.deltas.tolist()
    one = np.array([r.index], np.int64)
    layers: list = []
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    if target is not None and step == 2:
        layers.append(BoxLayer("target", target[None], solid(GT_COLOR, 1), np.zeros(1, np.int64),
                               labels=(target_text,), width=2.0, dashed=True))
    layers.append(BoxLayer("anchor", r.anchor[None], solid(SELECT, 1), one,
                           labels=(f"anchor {wa:.0f}×{ha:.0f}",), width=2.5, dashed=step > 0))
    layers.append(SegmentLayer("anchor_centre", cross_segments([ca], 6.0), solid(SELECT, 2), width=2.0))
    if step >= 1:
        layers.append(SegmentLayer("delta_arrow", [[ca[0], ca[1], cd[0], cd[1]]], solid(ARROW, 1), width=3.0,
                                   arrow_heads=True))
        layers.append(TextLayer("delta_text", [[(ca[0] + cd[0]) / 2, (ca[1] + cd[1]) / 2]],
                                (f"dx {dx:+.2f}  dy {dy:+.2f}  dw {dw:+.2f}  dh {dh:+.2f}",), solid(TEXT, 1),
                                size=15.0, anchor="center"))
    if step >= 2:
        w, h = float(r.decoded[2] - r.decoded[0]), float(r.decoded[3] - r.decoded[1])
        layers.append(BoxLayer("decoded", r.decoded[None], solid(POSITIVE, 1), one,
                               labels=(f"decoded {w:.0f}×{h:.0f}",), width=3.0, fill_alpha=30))

    level_name = inference.anchors[r.level].name or f"level {r.level}"
    rows = [("Anchor", f"#{fmt_int(r.index)} ({level_name}), {wa:.1f}×{ha:.1f} at ({ca[0]:.1f}, {ca[1]:.1f})"),
            ("Head output", "(" + ", ".join(f"{v:+.3f}" for v in r.raw_deltas) + ")"),
            ("BoxCoder weights", "(" + ", ".join(f"{v:g}" for v in r.weights) + ")"),
            ("(dx, dy, dw, dh)", "(" + ", ".join(f"{v:+.3f}" for v in r.deltas) + ") = output / weights")]
    rows += _formula_rows(r)
    rows.append(("Decoded box", "(" + ", ".join(f"{v:.1f}" for v in r.decoded) + ")"))
    iou = float(box_iou_np(r.decoded[None], target[None])[0, 0]) if target is not None else float("nan")
    if target is not None:
        rows.append(("Chosen", target_text))
        rows.append(("IoU decoded / chosen", f"{iou:.3f}"))
        if state.detection is not None and inference.proposals is not None:
            refine = encode_deltas(r.decoded[None], target[None], ROI_HEAD_WEIGHTS)[0] / np.asarray(ROI_HEAD_WEIGHTS)
            rows.append(("Box head, proposal → detection",
                         "(" + ", ".join(f"{v:+.3f}" for v in refine) + ") (dx, dy, dw, dh)"))

    if step == 0:
        caption = (f"Anchor #{fmt_int(r.index)} on {level_name}: a {wa:.0f}×{ha:.0f} box centred at "
                   f"({ca[0]:.0f}, {ca[1]:.0f}), where the box regression starts.")
    elif step == 1:
        caption = (f"The head predicts (dx, dy, dw, dh) = ({dx:+.2f}, {dy:+.2f}, {dw:+.2f}, {dh:+.2f}): move the "
                   f"centre by dx·wa = {dx * wa:+.1f} px and dy·ha = {dy * ha:+.1f} px, scale the width by "
                   f"e^dw = {math.exp(dw):.2f} and the height by e^dh = {math.exp(dh):.2f}.")
    else:
        w, h = float(r.decoded[2] - r.decoded[0]), float(r.decoded[3] - r.decoded[1])
        caption = f"Decoded box: {w:.0f}×{h:.0f} centred at ({cd[0]:.0f}, {cd[1]:.0f})."
        if target is not None:
            caption += f" It overlaps the chosen {target_text.split(':')[0]} with IoU {iou:.2f}."
    return ViewFrame(layers, caption, rows, step, len(STEP_NAMES), STEP_NAMES[step])


def _prepare(request: ViewRequest) -> Prepare | None:
    target, _ = _target(request.inference, RegressionViewState(detection=request.picked))
    if target is None:
        return None
    inference, box = request.inference, np.asarray(target, np.float32).copy()
    return Prepare(("best_anchor", tuple(box.tolist())), lambda _detector: best_anchor_for(inference, box),
                   message="Finding the anchor behind the box…")


def _build(request: ViewRequest) -> ViewFrame:
    state = RegressionViewState(detection=request.picked, step=request.step, anchor_match=request.prepared)
    return regression_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "regression", "Box regression", _build, step_count=lambda _r: len(STEP_NAMES), needs="anchors",
    cannot_show="it has no anchors to regress from", click="detection", prepare=_prepare,
    help="Steps: the anchor, its deltas (dx, dy, dw, dh), the decoded box. Click a detection: the anchor behind it.")
