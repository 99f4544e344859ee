"""Box regression view: how the head moves one reference box (an anchor, or a two-stage model's proposal), the
training target t* its ground-truth object gives, and the classic slide's worked examples.

Steps: the reference box; the head's predicted t (its output ÷ the BoxCoder weights); the decoded box; the
target t* from the matched object (through the model's BoxCoder, weights said) with the residual t* − t; and
three proposals placed by hand on that object — exactly on it (0, 0, 0, 0), a quarter of its width to the left
(0.25, 0, 0, 0) and 1.5 times too wide (tw = log(1/1.5) = −0.41). A picked detection (click, ``render --box``)
chooses the reference: the proposal (or anchor) behind it. Computations: box_regression.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference
from detviewer.render.model.colors import MARK, PALETTE, SELECT
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    POSITIVE,
    TEXT,
    BoxLayer,
    GtPair,
    SegmentLayer,
    TextLayer,
    ViewError,
    ViewFrame,
    as_gt,
    cross_segments,
    fmt_int,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import Control, Prepare, ViewRequest, ViewSpec
from detviewer.render.model.views.box_regression import (
    BoxRegression,
    RegressionTarget,
    anchor_regression,
    best_anchor_for,
    has_box_head,
    proposal_for_detection,
    proposal_regression,
    regression_target,
    require_deltas,
)
from detviewer.render.model.views.notation import T_H, T_VECTOR, T_W, T_X, T_Y
from detviewer.render.model.views.training_labels import anchor_rule, label_anchors, rule_title

__all__ = ["RegressionViewState", "regression_frame", "regression_steps", "choose_reference", "STEP_NAMES", "STAGES"]

STEP_NAMES = ("Reference box", "Predicted t", "Decoded box", "Target t*", "Textbook cases")
STAGES = ("auto", "anchor", "proposal")


@dataclass(frozen=True)
class RegressionViewState:
    """Which box to explain, first match wins: ``detection`` (index into inference.detections: the reference
    behind it), ``proposal``, ``anchor`` (flat index over all levels); none: the reference best matching the
    largest ground-truth object, else the most confident one. stage: "anchor" (RPN / one-stage head),
    "proposal" (the box head) or "auto" (the box head when the model has one); step: 0 … 4 (STEP_NAMES),
    None shows the decoded box. Finding the reference decodes every proposal or anchor (memoised per Inference:
    the window does it first off the GUI thread, see ``_prepare``)."""

    anchor: int | None = None
    proposal: int | None = None
    detection: int | None = None
    stage: str = "auto"
    step: int | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")


def regression_steps(inference: Inference, gt: GtPair | None = None) -> int:
    return len(STEP_NAMES)


def _stage(inference: Inference, state: RegressionViewState) -> str:
    if state.stage == "auto":
        return "proposal" if has_box_head(inference) else "anchor"
    return state.stage


def _largest(gt: GtPair) -> int:
    sizes = (gt[0][:, 2] - gt[0][:, 0]) * (gt[0][:, 3] - gt[0][:, 1])
    return int(np.argmax(sizes))


def _default_anchor(inference: Inference, gt: GtPair | None) -> int:
    rule = anchor_rule(inference)
    if gt is not None and len(gt[0]) and rule is not None:
        labels = label_anchors(inference, gt[0], rule)
        mine = np.flatnonzero((labels.labels == 1) & (labels.matched_gt == _largest(gt)))
        if len(mine):
            return int(mine[np.argmax(labels.max_iou[mine])])
    if all(a.objectness is not None for a in inference.anchors):
        return int(np.argmax(np.concatenate([a.objectness for a in inference.anchors])))
    return 0


def _default_proposal(inference: Inference, gt: GtPair | None) -> tuple[int, int | None]:
    from detviewer.ops.boxes import box_iou_np

    if gt is not None and len(gt[0]):
        g = _largest(gt)
        label = int(gt[1][g])
        best = int(np.argmax(box_iou_np(gt[0][g][None], inference.proposals.xyxy)[0]))
        return best, (label if 0 < label < inference.proposals.class_deltas.shape[1] else None)
    if len(inference.detections):
        return proposal_for_detection(inference, 0)[0], int(inference.detections.labels[0])
    return 0, None


def choose_reference(inference: Inference, state: RegressionViewState, gt: GtPair | None = None
                     ) -> tuple[BoxRegression, str]:
    """(the reference box's regression, a short text naming the picked box, or "")."""
    require_deltas(inference)
    stage = _stage(inference, state)
    det = inference.detections
    if state.detection is not None:
        if not 0 <= state.detection < len(det):
            raise ViewError(f"detection {state.detection + 1} does not exist ({len(det)} detections).")
        i = int(state.detection)
        picked = f"detection {i + 1}: {det.name_of(det.labels[i])} {det.scores[i]:.2f}"
        if stage == "proposal":
            return proposal_regression(inference, proposal_for_detection(inference, i)[0], int(det.labels[i])), picked
        box = (inference.proposals.xyxy[proposal_for_detection(inference, i)[0]] if has_box_head(inference)
               else det.xyxy[i])
        return anchor_regression(inference, best_anchor_for(inference, box)[0]), picked
    if state.proposal is not None:
        if stage == "proposal":
            return proposal_regression(inference, int(state.proposal)), ""
        return anchor_regression(inference, best_anchor_for(inference, inference.proposals.xyxy[state.proposal])[0]), ""
    if state.anchor is not None or stage == "anchor":
        flat = state.anchor if state.anchor is not None else _default_anchor(inference, gt)
        return anchor_regression(inference, flat), ""
    index, label = _default_proposal(inference, gt)
    return proposal_regression(inference, index, label), ""


def _sig(values: ArrayLike) -> str:
    """'(0.25, 0, −0.41, 0)': the lecture's numbers, no needless digits."""
    def one(v: float) -> str:
        text = f"{v:.2f}".rstrip("0").rstrip(".")
        text = "0" if text in ("-0", "0", "") else text
        return text.replace("-", "−")
    return "(" + ", ".join(one(float(v)) for v in values) + ")"


def _signed(value: float, digits: int = 1) -> str:
    """'+3.5' / '−3.5' with a true minus sign."""
    return f"{value:+.{digits}f}".replace("-", "−")


def _weights_text(weights: ArrayLike) -> str:
    return "(" + ", ".join(f"{float(w):g}" for w in weights) + ")"


def _name(inference: Inference, r: BoxRegression) -> str:
    if r.kind == "proposal":
        return f"proposal {r.index + 1}"
    level = inference.anchors[r.level]
    return f"anchor {fmt_int(r.index)} ({level.name or f'level {r.level + 1}'})"


def _head(inference: Inference, r: BoxRegression) -> str:
    if r.kind == "proposal":
        return f"the box head (for the class {inference.detections.name_of(r.label)})"
    rule = anchor_rule(inference)
    return f"{rule_title(rule)} head" if rule is not None else "the head"


def _centre(box: np.ndarray) -> tuple[float, float]:
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2


def _formula_rows(r: BoxRegression) -> list[tuple[str, str]]:
    x1, y1, x2, y2 = r.box.tolist()
    wa, ha = x2 - x1, y2 - y1
    xa, ya = x1 + wa / 2, y1 + ha / 2
    tx, ty, tw, th = r.deltas.tolist()

    def plus(v: float) -> str:
        return f"{'+' if v >= 0 else '−'} {abs(v):.3f}"

    return [(f"x = xₐ + {T_X}·wₐ", f"{xa:.1f} {plus(tx)}·{wa:.1f} = {xa + tx * wa:.1f}"),
            (f"y = yₐ + {T_Y}·hₐ", f"{ya:.1f} {plus(ty)}·{ha:.1f} = {ya + ty * ha:.1f}"),
            (f"w = wₐ·exp({T_W})", f"{wa:.1f}·exp({_signed(tw, 3)}) = {wa * math.exp(tw):.1f}"),
            (f"h = hₐ·exp({T_H})", f"{ha:.1f}·exp({_signed(th, 3)}) = {ha * math.exp(th):.1f}")]


def _target_rows(target: RegressionTarget, r: BoxRegression) -> list[tuple[str, str]]:
    rule = target.rule
    status = ("positive" if target.positive else "not positive: no regression target in training") if rule else ""
    return [("Matched object", f"IoU {target.iou:.2f}" + (f", {status}" if status else "")),
            (f"t* {T_VECTOR}", _sig(target.t_star)),
            (f"t* × weights {_weights_text(r.weights)}", _sig(target.encoded) + " (what the loss compares)"),
            ("Residual t* − t", _sig(target.residual))]


def _textbook(inference: Inference, r: BoxRegression, object_box: np.ndarray):
    """Layers and rows of the three hand-placed proposals on ``object_box``, encoded with the model's BoxCoder."""
    from detviewer.ops.regression import TEXTBOOK_CASES, encode_deltas, textbook_boxes

    boxes = textbook_boxes(object_box)
    weights = tuple(float(w) for w in r.weights)
    codes = encode_deltas(boxes, np.tile(object_box, (len(boxes), 1)), weights)
    targets = codes / np.asarray(weights, np.float32)
    colors = PALETTE[[1, 4, 6]]
    layer = BoxLayer("textbook_boxes", boxes, colors, np.arange(len(boxes), dtype=np.int64),
                     labels=tuple(f"t* {_sig(t)}" for t in targets), width=2.5, dashed=True)
    rows = [(name, f"t* {_sig(t)} · encoded {_sig(c)}") for (name, _, _), t, c in zip(TEXTBOOK_CASES, targets, codes)]
    legend = tuple((name, tuple(int(v) for v in c)) for (name, _, _), c in zip(TEXTBOOK_CASES, colors))
    return layer, rows, legend


def _reference_layers(r: BoxRegression, step: int, name: str) -> list:
    one = np.array([r.index], np.int64)
    ca, cd = _centre(r.box), _centre(r.decoded)
    wa, ha = float(r.box[2] - r.box[0]), float(r.box[3] - r.box[1])
    label = f"{name.split(' (')[0]} {wa:.0f}×{ha:.0f}"
    layers = [BoxLayer("anchor", r.box[None], solid(SELECT, 1), one, labels=(label,), width=2.5, dashed=step > 0),
              SegmentLayer("anchor_centre", cross_segments([ca], 6.0), solid(SELECT, 2), width=2.0)]
    if step >= 1:
        layers.append(SegmentLayer("delta_arrow", [[ca[0], ca[1], cd[0], cd[1]]], solid(ARROW, 1), width=3.0,
                                   arrow_heads=True))
    if step == 1:
        layers.append(TextLayer("delta_text", [[(ca[0] + cd[0]) / 2, (ca[1] + cd[1]) / 2]], (f"t {_sig(r.deltas)}",),
                                solid(TEXT, 1), size=15.0, anchor="center"))
    if step >= 2:
        layers.append(BoxLayer("decoded", r.decoded[None], solid(POSITIVE, 1), one, labels=("decoded",), width=3.0,
                               fill_alpha=30))
    return layers


def _caption(inference: Inference, r: BoxRegression, step: int, name: str, target: RegressionTarget | None,
             picked: str) -> str:
    wa, ha = float(r.box[2] - r.box[0]), float(r.box[3] - r.box[1])
    ca, cd = _centre(r.box), _centre(r.decoded)
    tx, ty, tw, th = r.deltas.tolist()
    weights = _weights_text(r.weights)
    if step == 0:
        why = f", the one behind {picked}" if picked else ""
        return (f"{name[0].upper() + name[1:]}{why}: a {wa:.0f}×{ha:.0f} box centred at ({ca[0]:.0f}, {ca[1]:.0f}); "
                f"{_head(inference, r)} predicts how to move it.")
    if step == 1:
        head = _head(inference, r)
        return (f"{head[0].upper() + head[1:]} outputs {_sig(r.raw_deltas)}; ÷ its BoxCoder weights {weights} that "
                f"is t = {_sig(r.deltas)}: move the centre by {T_X}·wₐ = {_signed(tx * wa)} px and {T_Y}·hₐ = "
                f"{_signed(ty * ha)} px, scale the width by exp({T_W}) = {math.exp(tw):.2f} and the height by "
                f"exp({T_H}) = {math.exp(th):.2f}.")
    if step == 2:
        w, h = float(r.decoded[2] - r.decoded[0]), float(r.decoded[3] - r.decoded[1])
        return f"Decoded box: {w:.0f}×{h:.0f} centred at ({cd[0]:.0f}, {cd[1]:.0f})."
    if step == 3:
        if target is None:
            return "The target t* needs the object's box: load ground truth for this image."
        rule = f"; {rule_title(target.rule)} trains boxes at IoU ≥ {target.rule.fg_iou:g}" if target.rule else ""
        training = ("" if target.positive else " It is not positive under the model's rule, so training gives it no "
                    "target; shown for illustration.")
        return (f"Target t* = {_sig(target.t_star)} from the matched object (IoU {target.iou:.2f}{rule}), through "
                f"the model's BoxCoder with weights {weights} (the loss sees t*·weights = {_sig(target.encoded)}); "
                f"the prediction t = {_sig(r.deltas)} misses it by t* − t = {_sig(target.residual)}.{training}")
    return (f"The classic slide, through this model's BoxCoder (weights {weights}): a proposal exactly on the object "
            f"needs t* = (0, 0, 0, 0); one a quarter of its width to the left needs {T_X}* = 0.25; one 1.5× too wide "
            f"needs {T_W}* = log(1/1.5) = −0.41.")


def regression_frame(inference: Inference, state: RegressionViewState = RegressionViewState(),
                     gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """The regression view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    gt = as_gt(gt)
    r, picked = choose_reference(inference, state, gt)
    step = 2 if state.step is None else min(max(int(state.step), 0), len(STEP_NAMES) - 1)
    name = _name(inference, r)
    target = regression_target(inference, r, gt[0]) if gt is not None else None
    layers: list = []
    legend: tuple = ()
    if gt is not None:
        # the textbook cases are about one object: the others would only hide its edges
        shown = (gt[0][[target.gt_index]], gt[1][[target.gt_index]]) if step == 4 else gt
        layers.append(gt_layer(shown, inference.detections.class_names))
        legend += (("ground truth", GT_COLOR),)
    rows = [("Reference", f"{name}, {r.box[2] - r.box[0]:.1f}×{r.box[3] - r.box[1]:.1f}"),
            ("Head", f"{_head(inference, r)}, BoxCoder weights {_weights_text(r.weights)}")]
    if step == 4:
        object_box = target.gt_box if target is not None else r.decoded
        layer, textbook_rows, textbook_legend = _textbook(inference, r, object_box)
        layers.append(layer)
        rows = rows[1:] + [("Object", "(" + ", ".join(f"{v:.0f}" for v in object_box) + ")"
                            + ("" if target is not None else " (the decoded box: no ground truth)"))] + textbook_rows
        legend += textbook_legend
    else:
        layers += _reference_layers(r, step, name)
        legend += ((r.kind, SELECT), ("predicted move", ARROW), ("decoded box", POSITIVE))[:1 + min(step, 2)]
        rows += [("Head output", _sig(r.raw_deltas)), (f"t = output ÷ weights {T_VECTOR}", _sig(r.deltas))]
        if step == 3 and target is not None:
            c0, c1 = _centre(r.box), _centre(target.gt_box)
            layers.append(SegmentLayer("target_arrow", [[c0[0], c0[1], c1[0], c1[1]]], solid(MARK, 1), width=2.5,
                                       arrow_heads=True, dashed=True))
            legend += (("target move t*", MARK),)
            rows += _target_rows(target, r)
        else:
            rows += _formula_rows(r) + [("Decoded box", "(" + ", ".join(f"{v:.1f}" for v in r.decoded) + ")")]
    if picked:
        rows.insert(0, ("Picked", picked))
    caption = _caption(inference, r, step, name, target, picked)
    return ViewFrame(layers, caption, rows, step, len(STEP_NAMES), STEP_NAMES[step], legend=legend)


def _prepare(request: ViewRequest) -> Prepare:
    """Finds the reference box off the GUI thread: it decodes every proposal (or anchor) and labels every
    anchor against the ground truth, all memoised, so the build that follows reads the memos."""
    inference = request.inference
    state = RegressionViewState(detection=request.picked, stage=request.controls["stage"])
    gt = as_gt(request.gt_pair)

    def run(_detector: object) -> None:
        try:
            reference, _picked = choose_reference(inference, state, gt)
            if gt is not None:
                regression_target(inference, reference, gt[0])
        except ViewError:
            pass  # the build says why, on the GUI thread

    gt_key = None if gt is None else (gt[0].tobytes(), gt[1].tobytes())
    return Prepare(("reference", state.detection, state.stage, gt_key), run, message="Finding the reference box…")


def _build(request: ViewRequest) -> ViewFrame:
    state = RegressionViewState(detection=request.picked, stage=request.controls["stage"], step=request.step)
    return regression_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "regression", "Box regression", _build, step_count=lambda _r: len(STEP_NAMES), needs="anchors",
    cannot_show="it has no anchors to regress from", click="detection", prepare=_prepare, reads_anchors=True,
    controls=(Control("stage", "Regression of", "choice", "auto", STAGES,
                      tooltip="anchor: the RPN / one-stage head; proposal: the box head; auto: the box head when "
                              "the model has one"),),
    help="Steps: the reference box, its predicted t, the decoded box, the target t* from ground truth, the "
         "textbook cases. Click a detection (render --box K): the proposal or anchor behind it.")
