"""The two views of the model's own result: its detections, and its NMS replayed step by step.

Both read the NMS replay at the user's thresholds (``state.nms_replay``); with ground truth the
detections are matched to it as COCO does (``gt_layers``) and, while stepping, the GT boxes are drawn.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detviewer.core.types import KEPT, PENDING, SUPPRESSED
from detviewer.evaluation.errors import FP_RULE
from detviewer.render.model.colors import GREY, HIGHLIGHT, SUPPRESS
from detviewer.render.model.gt_layers import FALSE_POSITIVE, GT_WHITE, MISSED, ground_truth_layers, match_summary
from detviewer.render.model.nms_layers import nms_layers
from detviewer.render.model.primitives import BoxLayer, ViewFrame, fmt_int, solid
from detviewer.render.model.spec import ViewRequest, ViewSpec

__all__ = ["DETECTIONS", "NMS", "detections_frame", "nms_frame", "nms_step_count"]


def detections_frame(request: ViewRequest) -> ViewFrame:
    """The final detections at the user's thresholds, with TP / FP (why) / missed when there is ground truth."""
    replay = request.replay
    gt_layers, match = ground_truth_layers(replay, request.gt)
    layers = gt_layers + nms_layers(replay, replay.step_count, stepping=False, selected=request.selected,
                                    show_suppressed=request.show_suppressed)
    layers += [_overlay_layer(o) for o in request.overlays if len(o)]
    false_positives = next((layer for layer in gt_layers if layer.name == "false_positive"), None)
    if false_positives is not None:  # one label per box: a false positive's says its class, score and why
        layers = [_unlabelled(layer, false_positives.index) if layer.name == "kept" else layer for layer in layers]
    t = replay.thresholds
    caption = f"{fmt_int(len(replay.keep))} detections at score > {t.score:.2f}"
    if match is not None:
        caption += f" · {match_summary(match, request.gt)}"
    rows = [("Candidates", fmt_int(len(replay))), (f"Above score {t.score:.2f}", fmt_int(len(replay.order))),
            ("Kept by NMS", fmt_int(len(replay.keep)))]
    if match is not None:
        rows += [("True positives", fmt_int(int(match.tp.sum()))), ("False positives", fmt_int(int(match.fp.sum()))),
                 ("Missed objects", fmt_int(int(match.missed.sum())))]
    legend = _legend(layers, match is not None) + tuple((o.legend, o.color) for o in request.overlays if len(o))
    return ViewFrame(layers, caption + ".", rows, 0, 1, "Detections", legend=legend)


def _overlay_layer(overlay) -> BoxLayer:
    n = len(overlay)
    return BoxLayer(f"overlay_{overlay.name}", overlay.xyxy, solid(overlay.color, n), np.arange(n, dtype=np.int64),
                    labels=tuple(overlay.labels), width=overlay.width, dashed=overlay.dashed)


def _legend(layers, with_gt: bool) -> tuple:
    names = {layer.name for layer in layers}
    out = [("kept (class colours)", (0, 158, 115))] if "kept" in names else []
    if with_gt:
        out += [("ground truth", GT_WHITE)]
        if "false_positive" in names:
            out.append((f"false positive ({FP_RULE})", FALSE_POSITIVE))
        if "missed" in names:
            out.append(("missed object", MISSED))
    return tuple(out)


def _unlabelled(layer, index):
    """``layer`` with no label on the boxes whose candidate index is in ``index``."""
    drop = set(int(i) for i in index)
    return replace(layer, labels=tuple("" if int(i) in drop else text for i, text in zip(layer.index, layer.labels)))


def nms_step_count(request: ViewRequest) -> int:
    """Start, then one step per kept box."""
    return request.replay.step_count + 1


def nms_frame(request: ViewRequest) -> ViewFrame:
    """NMS after ``request.step`` greedy steps (0: sorted, nothing decided)."""
    replay = request.replay
    step = replay.clamp(0 if request.step is None else request.step)
    gt_layers, _ = ground_truth_layers(replay, request.gt, stepping=True)
    layers = gt_layers + nms_layers(replay, step, stepping=True, selected=request.selected,
                                    show_suppressed=request.show_suppressed)
    states = replay.states(step)
    n = replay.step_count
    rows = [("Kept so far", fmt_int(int((states == KEPT).sum()))),
            ("Suppressed so far", fmt_int(int((states == SUPPRESSED).sum()))),
            ("Still pending", fmt_int(int((states == PENDING).sum()))),
            ("Below the score threshold", fmt_int(len(replay) - len(replay.order)))]
    current = replay.step(step)
    if current is None:
        label, text = "Start", f"NMS: start, 0 of {n} steps"
    else:
        cand = replay.candidates
        label = f"keep #{current.kept + 1} {cand.name_of(cand.labels[current.kept])}"
        text = f"NMS step {step} of {n}"
        rows.insert(0, ("This step", f"keep #{current.kept + 1}, suppress {fmt_int(len(current.suppressed))}"))
    legend = (("kept so far (class colours)", (0, 158, 115)), ("kept at this step", HIGHLIGHT),
              ("suppressed at this step", SUPPRESS), ("not decided yet", GREY))
    return ViewFrame(layers, replay.narration(step, True), rows, step, n + 1, label, text, legend=legend)


DETECTIONS = ViewSpec(
    "detections", "Detections", detections_frame, click="candidate",
    help="Click a box to select it in the candidate table; hover for its score and state.")

NMS = ViewSpec(
    "nms", "NMS step by step", nms_frame, step_count=nms_step_count, click="candidate", needs_candidates=True,
    steps_nms=True,
    help="Each step keeps the best remaining box and suppresses the boxes overlapping it above the IoU "
         "threshold (red, with their IoU).")

