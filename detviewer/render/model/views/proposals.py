"""Proposals view: the RPN's region proposals with objectness, before and after its own NMS.

Before: the top-K of the candidates the RPN's NMS received (its per-level top-n after decoding),
with the ones that NMS removes dashed grey. After: the top-K proposals sent to the box head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Inference, Proposals
from detviewer.render.model.colors import GREY, SELECT
from detviewer.render.model.primitives import (
    GT_COLOR,
    BoxLayer,
    ViewError,
    ViewFrame,
    as_gt,
    colormap,
    fmt_int,
    fmt_num,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import Control, ViewRequest, ViewSpec, counted

__all__ = ["ProposalViewState", "proposals_frame", "proposals_steps", "kept_by_rpn_nms", "STAGES"]

STAGES = ("before", "after")
LABELLED = 10  # the best few carry "#rank objectness" labels; more would bury the image


@dataclass(frozen=True)
class ProposalViewState:
    """top_k: how many proposals to draw (best first); stage: "before" or "after" the RPN's NMS;
    selected: index into the stage's boxes sorted by objectness (rank 0 = best), or None;
    step: lecture-mode step (0 before NMS, 1 after), overrides ``stage``."""

    top_k: int = 100
    stage: str = "after"
    selected: int | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")


def _proposals(inference: Inference) -> Proposals:
    if inference.proposals is None:
        raise ViewError(f"{inference.model_name} has no region proposal network; the proposals view needs a "
                        "two-stage model such as demo-frcnn or fasterrcnn_resnet50_fpn.")
    return inference.proposals


def _has_before(p: Proposals) -> bool:
    return p.pre_nms_xyxy is not None and p.pre_nms_objectness is not None


def proposals_steps(inference: Inference, gt=None) -> int:
    """Lecture steps: before the RPN's NMS, then after (one step when the candidates were not kept)."""
    return 2 if _has_before(_proposals(inference)) else 1


def _rows_view(boxes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(boxes, np.float32).view(np.dtype((np.void, 16))).reshape(-1)


def kept_by_rpn_nms(proposals: Proposals) -> np.ndarray:
    """(N_pre,) bool: which pre-NMS candidates are among the final proposals (exact coordinate match)."""
    if not _has_before(proposals):
        raise ValueError("these proposals carry no pre-NMS candidates")
    return np.isin(_rows_view(proposals.pre_nms_xyxy), _rows_view(proposals.xyxy))


def proposals_frame(inference: Inference, state: ProposalViewState = ProposalViewState(), gt=None) -> ViewFrame:
    """The proposals view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    p = _proposals(inference)
    gt = as_gt(gt)
    steps = proposals_steps(inference)
    if state.step is not None:
        stage = STAGES[min(max(int(state.step), 0), 1)] if steps == 2 else "after"
    else:
        stage = state.stage if steps == 2 else "after"
    step = STAGES.index(stage) if steps == 2 else 0

    if stage == "before":
        boxes, scores = p.pre_nms_xyxy, p.pre_nms_objectness
        kept = kept_by_rpn_nms(p)
    else:
        boxes, scores = p.xyxy, p.objectness
        kept = np.ones(len(boxes), bool)
    order = np.argsort(-scores, kind="stable")[: state.top_k]
    shown_kept, shown_removed = order[kept[order]], order[~kept[order]]

    layers: list = []
    if len(shown_removed):
        layers.append(BoxLayer("removed_by_nms", boxes[shown_removed], solid(GREY, len(shown_removed)),
                               shown_removed.astype(np.int64), width=1.0, alpha=170, dashed=True))
    back = shown_kept[::-1]  # the best proposal is drawn last, on top
    layers.append(BoxLayer("proposals", boxes[back], colormap(scores[back], "viridis", 0.0, 1.0),
                           back.astype(np.int64), width=1.5, alpha=200))
    top = order[:LABELLED]
    rank = {int(i): r for r, i in enumerate(top)}
    top = top[kept[top]]
    layers.append(BoxLayer("proposals_top", boxes[top], colormap(scores[top], "viridis", 0.0, 1.0),
                           top.astype(np.int64), labels=tuple(f"#{rank[int(i)] + 1} {scores[i]:.2f}" for i in top),
                           width=2.5))
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))

    iou = fmt_num(p.iou_threshold)
    rows = []
    if _has_before(p):
        rows.append(("Before RPN NMS", f"{fmt_int(len(p.pre_nms_xyxy))} candidates"))
    rows += [("After RPN NMS", f"{fmt_int(len(p))} proposals (IoU {iou})"), ("Shown", f"top {fmt_int(len(order))}")]
    if len(order):
        rows.append(("Objectness shown", f"{scores[order[0]]:.3f} … {scores[order[-1]]:.3f}"))
    if state.selected is not None and 0 <= state.selected < len(order):
        layer, selected_rows = _selected(boxes, scores, kept, int(order[state.selected]), state.selected)
        layers.append(layer)
        rows += selected_rows

    if stage == "before":
        caption = (f"Before the RPN's NMS: the {fmt_int(len(order))} highest-objectness of "
                   f"{fmt_int(len(boxes))} candidate boxes; NMS at IoU {iou} removes "
                   f"{fmt_int(len(shown_removed))} of them (dashed grey).")
        label = "Before NMS"
    else:
        caption = (f"After NMS at IoU {iou}: the top {fmt_int(len(order))} of the {fmt_int(len(p))} proposals "
                   "the RPN sends to the box head; colour = objectness.")
        label = "After NMS"
    return ViewFrame(layers, caption, rows, step, steps, label, legend=_legend(stage, gt is not None))


def _selected(boxes: np.ndarray, scores: np.ndarray, kept: np.ndarray, i: int, rank: int):
    """The selected proposal's layer and table rows."""
    layer = BoxLayer("selected", boxes[[i]], solid(SELECT, 1), np.array([i], np.int64),
                     labels=(f"#{rank + 1} {scores[i]:.3f}",), width=3.0)
    x1, y1, x2, y2 = boxes[i].tolist()
    return layer, [("Selected", f"#{rank + 1}, objectness {scores[i]:.3f}" + ("" if kept[i] else ", removed by NMS")),
                   ("Box", f"({x1:.0f}, {y1:.0f}) – ({x2:.0f}, {y2:.0f}), {x2 - x1:.0f}×{y2 - y1:.0f}")]


def _legend(stage: str, with_gt: bool) -> tuple:
    legend = (("objectness 0", tuple(int(v) for v in colormap([0.0])[0])),
              ("objectness 1", tuple(int(v) for v in colormap([1.0])[0])))
    if stage == "before":
        legend += (("removed by the RPN's NMS", GREY),)
    return legend + ((("ground truth", GT_COLOR),) if with_gt else ())


def _build(request: ViewRequest) -> ViewFrame:
    state = ProposalViewState(top_k=request.controls["top_k"], step=request.step)
    return proposals_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "proposals", "Proposals", _build, step_count=counted(proposals_steps), needs="proposals",
    cannot_show="it is not a two-stage model (it has no region proposals)",
    controls=(Control("top_k", "Top K", "int", 100, minimum=1, maximum=2000, tooltip="How many proposals to draw"),),
    help="Steps: the RPN's candidates before its NMS, then the proposals after it.")
