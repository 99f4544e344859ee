"""SSD default boxes per feature-map scale k: the map's grid, the boxes of one cell, the scale formula
with this model's numbers, counts per scale, and - with ground truth - the matched boxes (IoU ≥ 0.5)
and the negatives hard negative mining keeps (3 per positive).

Box shapes per cell follow torchvision's DefaultBoxGenerator: (s_k, s_k), (s'_k, s'_k) with
s'_k = sqrt(s_k·s_{k+1}), then for each ratio r: (s_k·√r, s_k/√r) and (s_k/√r, s_k·√r) as (w, h)
fractions of the input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detviewer.core.types import AnchorSet, Inference
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.geometry import level_grid, level_offsets
from detviewer.render.model.spec import ViewRequest, ViewSpec, counted
from detviewer.render.model.primitives import (
    ARROW, NEGATIVE, POSITIVE, BoxLayer, SegmentLayer, ViewError, ViewFrame, as_gt, cross_segments, fmt_int,
    fmt_num, gt_layer, solid,
)

__all__ = ["DefaultBoxViewState", "SsdMatch", "ssd_scale_list", "scale_formula", "box_shapes", "ssd_matching",
           "default_boxes_frame", "default_boxes_steps"]


@dataclass(frozen=True)
class DefaultBoxViewState:
    """scale: index into ``inference.anchors`` (the paper's k is scale + 1); cell (row, col) on that
    map, else the cell under ``point`` (x, y original pixels), else the cell of the first ground-truth
    centre, else the middle cell; iou: SSD's matching threshold; neg_ratio: negatives per positive;
    step: lecture-mode step (= scale), overrides ``scale``."""

    scale: int = 0
    cell: tuple[int, int] | None = None
    point: tuple[float, float] | None = None
    show_grid: bool = True
    iou: float = 0.5
    neg_ratio: int = 3
    step: int | None = None


@dataclass(frozen=True, eq=False)
class SsdMatch:
    """SSD's training targets for every default box (flat order over all scales).

    labels (D,) int8 1 matched / 0 background; matched_gt (D,) int64; max_iou (D,) float32;
    hard_negatives (Q,) int64 flat indices kept by hard negative mining, hardest first (empty when
    the model gave no scores).
    """

    labels: np.ndarray
    matched_gt: np.ndarray
    max_iou: np.ndarray
    hard_negatives: np.ndarray


def _require_ssd(inference: Inference) -> None:
    if not inference.anchors or not all(a.scales for a in inference.anchors):
        raise ViewError(f"{inference.model_name} has no SSD default boxes; the default-box view needs an SSD "
                        "model such as demo-ssd or ssd300_vgg16.")


def ssd_scale_list(inference: Inference) -> list[float]:
    """[s_1 … s_m, s_{m+1}]: every map's s_k plus the generator's extra last scale."""
    _require_ssd(inference)
    return [a.scales[0] for a in inference.anchors] + [inference.anchors[-1].scales[1]]


def _linear(scales, m: int) -> bool:
    from detviewer.ops.anchors import ssd_scales

    return m >= 2 and np.allclose(scales[:m], ssd_scales(scales[0], scales[m - 1], m), atol=1e-6)


def scale_formula(scales: list[float], k: int) -> list[tuple[str, str]]:
    """Rows explaining s_k for the 1-based scale ``k``: the paper's formula with this model's numbers.

    scales: ssd_scale_list() (m + 1 values). torchvision's SSD300 sets s_1 = 0.07 apart and spaces
    s_2 … s_m linearly; models with hand-picked scales are said to be so.
    """
    m = len(scales) - 1
    s = scales
    rows = []
    if _linear(s, m):
        rows.append(("Formula", f"s_k = s_min + (s_max − s_min)(k − 1)/(m − 1) = {fmt_num(s[0])} + "
                                f"({fmt_num(s[m - 1])} − {fmt_num(s[0])})(k − 1)/{m - 1}"))
        rows.append((f"s_{k}", f"{fmt_num(s[0])} + {fmt_num(s[m - 1] - s[0], 3)}·{k - 1}/{m - 1} = "
                                f"{fmt_num(s[k - 1], 3)}"))
    elif m >= 3 and _linear(s[1:], m - 1):
        rows.append(("Formula", f"s_1 = {fmt_num(s[0])} set apart; for k = 2…{m}: s_k = {fmt_num(s[1])} + "
                                f"({fmt_num(s[m - 1])} − {fmt_num(s[1])})(k − 2)/{m - 2}"))
        if k == 1:
            rows.append(("s_1", f"{fmt_num(s[0], 3)} (chosen by hand for the finest map)"))
        else:
            rows.append((f"s_{k}", f"{fmt_num(s[1])} + {fmt_num(s[m - 1] - s[1], 3)}·{k - 2}/{m - 2} = "
                                   f"{fmt_num(s[k - 1], 3)}"))
    else:
        rows.append(("Scales", "set by hand: " + ", ".join(fmt_num(v, 3) for v in s[:m])
                     + " (not the linear formula)"))
        rows.append((f"s_{k}", fmt_num(s[k - 1], 3)))
    prime = math.sqrt(s[k - 1] * s[k])
    rows.append((f"s'_{k}", f"√(s_{k}·s_{k + 1}) = √({fmt_num(s[k - 1], 3)}·{fmt_num(s[k], 3)}) = "
                            f"{fmt_num(prime, 3)}"))
    return rows


def _ratio_text(r: float) -> str:
    return fmt_num(r) if r >= 1 else f"1/{fmt_num(1 / r)}"


def _wh(r: float) -> str:
    """Width:height text for w / h = r."""
    return f"{fmt_num(r)}:1" if r >= 1 else f"1:{fmt_num(1 / r)}"


def box_shapes(anchors: AnchorSet) -> list[str]:
    """Names of the boxes in one cell, in the generator's order: "1:1 s_k", "1:1 s'_k", "2:1", "1:2" ... (w:h)."""
    names = ["1:1 s_k", "1:1 s'_k"]
    for r in anchors.aspect_ratios:
        names += [_wh(r), _wh(1 / r)]
    return names


def ssd_matching(inference: Inference, gt_boxes, *, iou: float = 0.5, neg_ratio: int = 3) -> SsdMatch:
    """Match every default box to ground truth (core.assign, torchvision's SSDMatcher) and pick the
    negatives SSD trains on, ranked by the head's 1 − P(background): the background cross-entropy
    −log P(background) grows with it, so both rank alike."""
    from detviewer.ops.assign import hard_negative_mining, match_ssd_default_boxes

    boxes = np.concatenate([a.boxes for a in inference.anchors])
    labels, matched, max_iou = match_ssd_default_boxes(boxes, gt_boxes, iou)
    if any(a.objectness is None for a in inference.anchors):
        negatives = np.zeros(0, np.int64)
    else:
        objectness = np.concatenate([a.objectness for a in inference.anchors]).astype(np.float64)
        loss = -np.log(np.clip(1.0 - objectness, 1e-12, 1.0))
        negatives = hard_negative_mining(loss, labels, neg_ratio)
    return SsdMatch(labels, matched, max_iou, negatives)


def default_boxes_steps(inference: Inference, gt=None) -> int:
    """Lecture steps: one per feature-map scale."""
    _require_ssd(inference)
    return len(inference.anchors)


def _choose_cell(state: DefaultBoxViewState, anchors: AnchorSet, grid, gt) -> tuple[int, int]:
    h, w = anchors.feature_size
    if state.cell is not None and 0 <= state.cell[0] < h and 0 <= state.cell[1] < w:
        return int(state.cell[0]), int(state.cell[1])
    for point in ([state.point] if state.point is not None else []) + (
            [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in gt[0][:1]] if gt is not None else []):
        cell = grid.cell_at(point)
        if cell is not None:
            return cell
    return h // 2, w // 2


def default_boxes_frame(inference: Inference, state: DefaultBoxViewState = DefaultBoxViewState(),
                        gt=None) -> ViewFrame:
    """The default-box view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    _require_ssd(inference)
    gt = as_gt(gt)
    m = len(inference.anchors)
    index = state.step if state.step is not None else state.scale
    if state.step is None and not 0 <= index < m:
        raise ViewError(f"{inference.model_name} has {m} feature-map scales; scale {index + 1} does not exist.")
    index = min(max(int(index), 0), m - 1)
    k = index + 1
    anchors = inference.anchors[index]
    grid = level_grid(anchors, inference.scale)
    scales = ssd_scale_list(inference)
    in_h, in_w = inference.input_size
    h, w = anchors.feature_size
    a = anchors.anchors_per_location

    layers: list = []
    if state.show_grid:
        segments = grid.segments(inference.image_size)
        layers.append(SegmentLayer("grid", segments, solid((255, 255, 255), len(segments)), width=1.0, alpha=110))
    rows = [(f"k = {i + 1}", f"{s.feature_size[0]}×{s.feature_size[1]} × {s.anchors_per_location} = "
                             f"{fmt_int(len(s))}") for i, s in enumerate(inference.anchors)]
    counts = " + ".join(fmt_int(len(s)) for s in inference.anchors)
    rows.append(("Total", f"{counts} = {fmt_int(inference.anchor_count)}"))
    rows += scale_formula(scales, k)
    ratios = ", ".join(f"{_ratio_text(r)}, {_ratio_text(1 / r)}" for r in anchors.aspect_ratios)
    rows.append(("Aspect ratios", f"1, {ratios} → {a} boxes per cell"))

    caption = (f"Scale k = {k} of {m}: a {h}×{w} map, {a} default boxes per cell (s_{k} = {fmt_num(scales[k - 1])}, "
               f"{fmt_num(scales[k - 1] * in_w, 0)} px of the {in_w} px input) — {fmt_int(len(anchors))} of "
               f"{fmt_int(inference.anchor_count)} default boxes.")
    if gt is not None:
        match = ssd_matching(inference, gt[0], iou=state.iou, neg_ratio=state.neg_ratio)
        start, end = level_offsets(inference)[index:index + 2]
        here = np.flatnonzero(match.labels[start:end] == 1) + start
        negatives = match.hard_negatives[(match.hard_negatives >= start) & (match.hard_negatives < end)]
        boxes = np.concatenate([s.boxes for s in inference.anchors])
        layers.append(BoxLayer("hard_negatives", boxes[negatives], solid(NEGATIVE, len(negatives)),
                               negatives.astype(np.int64), width=1.5, alpha=200, dashed=True))
        layers.append(BoxLayer("matched", boxes[here], solid(POSITIVE, len(here)), here.astype(np.int64),
                               labels=tuple(f"IoU {v:.2f}" for v in match.max_iou[here]), width=2.0))
        n_pos = int((match.labels == 1).sum())
        rows += [(f"Matched (IoU ≥ {fmt_num(state.iou)})", f"{fmt_int(len(here))} here, {fmt_int(n_pos)} in all"),
                 (f"Hard negatives ({state.neg_ratio}:1)", f"{fmt_int(len(negatives))} here, "
                                                           f"{fmt_int(len(match.hard_negatives))} in all")]
        caption += (f" Matched to an object (IoU ≥ {fmt_num(state.iou)}, green): {fmt_int(len(here))} here; "
                    f"hard negative mining keeps the {fmt_int(len(match.hard_negatives))} most object-like "
                    f"background boxes ({state.neg_ratio} per positive, blue), {fmt_int(len(negatives))} of them here.")
        layers.append(gt_layer(gt, inference.detections.class_names))

    cy, cx = _choose_cell(state, anchors, grid, gt)
    layers.append(BoxLayer("cell", grid.cell_rect(cy, cx)[None], solid(ARROW, 1), np.array([cy * w + cx], np.int64),
                           width=2.0, fill_alpha=70))
    cell_boxes = anchors.at_cell(cy, cx)
    start = level_offsets(inference)[index] + (cy * w + cx) * a
    shapes = box_shapes(anchors)
    sizes = cell_boxes[:, 2:] - cell_boxes[:, :2]
    layers.append(BoxLayer("cell_boxes", cell_boxes, PALETTE[np.arange(a) % len(PALETTE)],
                           np.arange(start, start + a, dtype=np.int64), labels=tuple(shapes), width=2.5))
    centre = grid.centre(cy, cx)
    layers.append(SegmentLayer("cell_centre", cross_segments([centre], 6.0), solid(ARROW, 2), width=2.0))
    rows.append(("Cell", f"row {cy}, col {cx}, centre ({fmt_num(centre[0], 1)}, {fmt_num(centre[1], 1)})"))
    rows += [(f"  {name}", f"{bw:.0f}×{bh:.0f} px") for name, (bw, bh) in zip(shapes, sizes.tolist())]
    return ViewFrame(layers, caption, rows, index, m, f"Scale k={k}/{m}")


def _build(request: ViewRequest) -> ViewFrame:
    state = DefaultBoxViewState(point=request.point, step=request.step)
    return default_boxes_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "default-boxes", "SSD default boxes", _build, step_count=counted(default_boxes_steps), needs="default_boxes",
    cannot_show="it is not an SSD (it has no default boxes)", click="point",
    help="Steps: one feature-map scale k at a time. Click: the default boxes of the cell under the point.")
