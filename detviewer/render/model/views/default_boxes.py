"""SSD default boxes per feature-map scale k: the map's grid, the boxes of one cell, the scale formula
with this model's numbers, counts per scale, and - with ground truth - the boxes the model's own SSD rule
matches (its SSDMatcher: each object's best box and every box at IoU ≥ 0.5) and the negatives hard negative
mining keeps (3 per positive). A last step sets the paper's scales (s_min 0.2, s_max 0.9, for this model's
m) beside the ones the model really uses, and says why they differ.

Box shapes per cell follow torchvision's DefaultBoxGenerator: (sₖ, sₖ), (s′ₖ, s′ₖ) with
s′ₖ = √(sₖ·sₖ₊₁), then for each ratio r: (sₖ·√r, sₖ/√r) and (sₖ/√r, sₖ·√r) as (w, h) fractions of the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import AnchorSet, Inference, MatchRule
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.geometry import LevelGrid, level_grid, level_offsets
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    NEGATIVE,
    POSITIVE,
    BoxLayer,
    GtPair,
    SegmentLayer,
    ViewError,
    ViewFrame,
    as_gt,
    cross_segments,
    fmt_int,
    fmt_num,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import ViewRequest, ViewSpec, counted
from detviewer.render.model.views.notation import S_K, S_PRIME_K, s_of, s_prime_of
from detviewer.render.model.views.scale_sets import scale_comparison_frame
from detviewer.render.model.views.training_labels import label_anchors, model_rule, rule_sentence

__all__ = ["DefaultBoxViewState", "SsdMatch", "ssd_scale_list", "scale_formula", "box_shapes", "ssd_matching",
           "default_boxes_frame", "default_boxes_steps"]


@dataclass(frozen=True)
class DefaultBoxViewState:
    """scale: index into ``inference.anchors`` (the paper's k is scale + 1); cell (row, col) on that
    map, else the cell under ``point`` (x, y original pixels), else the cell of the first ground-truth
    centre, else the middle cell; rule: match with this MatchRule instead of the model's own SSD rule;
    step: lecture-mode step (= scale; step m: the two scale sets), overrides ``scale``."""

    scale: int = 0
    cell: tuple[int, int] | None = None
    point: tuple[float, float] | None = None
    show_grid: bool = True
    rule: MatchRule | None = None
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
    """[s₁ … sₘ, sₘ₊₁]: every map's sₖ plus the generator's extra last scale."""
    _require_ssd(inference)
    return [a.scales[0] for a in inference.anchors] + [inference.anchors[-1].scales[1]]


def _linear(scales: list[float], m: int) -> bool:
    from detviewer.ops.anchors import ssd_scales

    return m >= 2 and np.allclose(scales[:m], ssd_scales(scales[0], scales[m - 1], m), atol=1e-6)


def scale_formula(scales: list[float], k: int) -> list[tuple[str, str]]:
    """Rows explaining sₖ for the 1-based scale ``k``: the paper's formula with this model's numbers.

    scales: ssd_scale_list() (m + 1 values). torchvision's SSD300 sets s₁ = 0.07 apart and spaces
    s₂ … sₘ linearly; models with hand-picked scales are said to be so.
    """
    m = len(scales) - 1
    s = scales
    sk = s_of(k)
    rows = []
    if _linear(s, m):
        rows.append(("Formula", f"{S_K} = s_min + (s_max − s_min)(k − 1)/(m − 1) = {fmt_num(s[0])} + "
                                f"({fmt_num(s[m - 1])} − {fmt_num(s[0])})(k − 1)/{m - 1}"))
        rows.append((sk, f"{fmt_num(s[0])} + {fmt_num(s[m - 1] - s[0], 3)}·{k - 1}/{m - 1} = {fmt_num(s[k - 1], 3)}"))
    elif m >= 3 and _linear(s[1:], m - 1):
        rows.append(("Formula", f"s₁ = {fmt_num(s[0])} set apart; for k = 2…{m}: {S_K} = {fmt_num(s[1])} + "
                                f"({fmt_num(s[m - 1])} − {fmt_num(s[1])})(k − 2)/{m - 2}"))
        if k == 1:
            rows.append(("s₁", f"{fmt_num(s[0], 3)} (chosen by hand for the finest map)"))
        else:
            rows.append((sk, f"{fmt_num(s[1])} + {fmt_num(s[m - 1] - s[1], 3)}·{k - 2}/{m - 2} = "
                             f"{fmt_num(s[k - 1], 3)}"))
    else:
        rows.append(("Scales", "set by hand: " + ", ".join(fmt_num(v, 3) for v in s[:m])
                     + " (not the linear formula)"))
        rows.append((sk, fmt_num(s[k - 1], 3)))
    prime = math.sqrt(s[k - 1] * s[k])
    rows.append((s_prime_of(k), f"√({sk}·{s_of(k + 1)}) = √({fmt_num(s[k - 1], 3)}·{fmt_num(s[k], 3)}) = "
                                f"{fmt_num(prime, 3)}"))
    return rows


def _ratio_text(r: float) -> str:
    return fmt_num(r) if r >= 1 else f"1/{fmt_num(1 / r)}"


def _wh(r: float) -> str:
    """Width:height text for w / h = r."""
    return f"{fmt_num(r)}:1" if r >= 1 else f"1:{fmt_num(1 / r)}"


def box_shapes(anchors: AnchorSet) -> list[str]:
    """Names of the boxes in one cell, in the generator's order: "1:1 sₖ", "1:1 s′ₖ", "2:1", "1:2" ... (w:h)."""
    names = [f"1:1 {S_K}", f"1:1 {S_PRIME_K}"]
    for r in anchors.aspect_ratios:
        names += [_wh(r), _wh(1 / r)]
    return names


def _ssd_rule(inference: Inference, rule: MatchRule | None) -> MatchRule:
    rule = rule or model_rule(inference, "ssd")
    if rule is None:
        raise ViewError(f"{inference.model_name} carries no SSD matching rule to label its default boxes with.")
    return rule


def ssd_matching(inference: Inference, gt_boxes: np.ndarray, rule: MatchRule | None = None) -> SsdMatch:
    """Match every default box to ground truth with the model's own SSD rule (its SSDMatcher, ``rule`` to
    override) and pick the negatives SSD trains on: neg_to_pos per positive, ranked by the head's
    1 − P(background) (training_labels.label_anchors)."""
    labels = label_anchors(inference, gt_boxes, _ssd_rule(inference, rule))
    return SsdMatch(labels.labels, labels.matched_gt, labels.max_iou, labels.sampled_negative)


def default_boxes_steps(inference: Inference, gt: GtPair | None = None) -> int:
    """Lecture steps: one per feature-map scale, then the paper's scales beside the model's."""
    _require_ssd(inference)
    return len(inference.anchors) + 1


def _choose_cell(state: DefaultBoxViewState, anchors: AnchorSet, grid: LevelGrid,
                 gt: GtPair | None) -> tuple[int, int]:
    h, w = anchors.feature_size
    if state.cell is not None and 0 <= state.cell[0] < h and 0 <= state.cell[1] < w:
        return int(state.cell[0]), int(state.cell[1])
    for point in ([state.point] if state.point is not None else []) + (
            [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in gt[0][:1]] if gt is not None else []):
        cell = grid.cell_at(point)
        if cell is not None:
            return cell
    return h // 2, w // 2


def _matching_part(inference: Inference, index: int, state: DefaultBoxViewState, gt: GtPair,
                   cell_index: np.ndarray) -> tuple:
    """Layers, rows and caption sentence of the model's SSD matching on scale ``index``. Only each object's
    best default box is labelled (one label per box: none on the boxes of the chosen cell, which carry their
    shape)."""
    rule = _ssd_rule(inference, state.rule)
    match = ssd_matching(inference, gt[0], rule)
    start, end = level_offsets(inference)[index:index + 2]
    here = np.flatnonzero(match.labels[start:end] == 1) + start
    negatives = match.hard_negatives[(match.hard_negatives >= start) & (match.hard_negatives < end)]
    boxes = np.concatenate([s.boxes for s in inference.anchors])
    best: set[int] = set()
    for g in range(len(gt[0])):
        mine = np.flatnonzero(match.matched_gt == g)
        if len(mine):
            best.add(int(mine[np.argmax(match.max_iou[mine])]))
    labels = tuple(f"IoU {match.max_iou[i]:.2f}" if i in best and i not in set(cell_index.tolist()) else ""
                   for i in here.tolist())
    layers = [BoxLayer("hard_negatives", boxes[negatives], solid(NEGATIVE, len(negatives)), negatives.astype(np.int64),
                       width=1.5, alpha=200, dashed=True),
              BoxLayer("matched", boxes[here], solid(POSITIVE, len(here)), here.astype(np.int64), labels=labels,
                       width=2.0)]
    n_pos = int((match.labels == 1).sum())
    ratio = fmt_num(rule.neg_to_pos)
    rows = [("Matched", f"{fmt_int(len(here))} here, {fmt_int(n_pos)} in all"),
            (f"Hard negatives ({ratio}:1)", f"{fmt_int(len(negatives))} here, {fmt_int(len(match.hard_negatives))} "
                                            "in all")]
    sentence = (f" {rule_sentence(rule)} Matched here (green): {fmt_int(len(here))}; hard negative mining keeps "
                f"the {fmt_int(len(match.hard_negatives))} most object-like background boxes ({ratio} per positive, "
                f"blue), {fmt_int(len(negatives))} of them here.")
    legend = ((f"matched (best or IoU ≥ {fmt_num(rule.fg_iou)})", POSITIVE), (f"hard negative ({ratio}:1)", NEGATIVE),
              ("ground truth", GT_COLOR))
    return layers, rows, sentence, legend


def default_boxes_frame(inference: Inference, state: DefaultBoxViewState = DefaultBoxViewState(),
                        gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """The default-box view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    _require_ssd(inference)
    gt = as_gt(gt)
    m = len(inference.anchors)
    index = state.step if state.step is not None else state.scale
    if state.step is None and not 0 <= index < m:
        raise ViewError(f"{inference.model_name} has {m} feature-map scales; scale {index + 1} does not exist.")
    if state.step is not None and int(state.step) >= m:
        return scale_comparison_frame(inference, ssd_scale_list(inference), gt)
    index = min(max(int(index), 0), m - 1)
    k = index + 1
    anchors = inference.anchors[index]
    grid = level_grid(anchors, inference.scale)
    scales = ssd_scale_list(inference)
    in_h, in_w = inference.input_size
    h, w = anchors.feature_size
    a = anchors.anchors_per_location
    cy, cx = _choose_cell(state, anchors, grid, gt)
    start = level_offsets(inference)[index] + (cy * w + cx) * a
    cell_index = np.arange(start, start + a, dtype=np.int64)

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

    caption = (f"Scale k = {k} of {m}: a {h}×{w} map, {a} default boxes per cell ({s_of(k)} = "
               f"{fmt_num(scales[k - 1])}, {fmt_num(scales[k - 1] * in_w, 0)} px of the {in_w} px input) — "
               f"{fmt_int(len(anchors))} of {fmt_int(inference.anchor_count)} default boxes.")
    legend: tuple = ()
    if gt is not None:
        match_layers, match_rows, sentence, legend = _matching_part(inference, index, state, gt, cell_index)
        layers += match_layers
        rows += match_rows
        caption += sentence
        layers.append(gt_layer(gt, inference.detections.class_names))

    layers.append(BoxLayer("cell", grid.cell_rect(cy, cx)[None], solid(ARROW, 1), np.array([cy * w + cx], np.int64),
                           width=2.0, fill_alpha=70))
    cell_boxes = anchors.at_cell(cy, cx)
    shapes = box_shapes(anchors)
    sizes = cell_boxes[:, 2:] - cell_boxes[:, :2]
    colors = PALETTE[np.arange(a) % len(PALETTE)]
    layers.append(BoxLayer("cell_boxes", cell_boxes, colors, cell_index, labels=tuple(shapes), width=2.5))
    centre = grid.centre(cy, cx)
    layers.append(SegmentLayer("cell_centre", cross_segments([centre], 6.0), solid(ARROW, 2), width=2.0))
    rows.append(("Cell", f"row {cy + 1}, column {cx + 1}, centre ({fmt_num(centre[0], 1)}, {fmt_num(centre[1], 1)})"))
    rows += [(f"  {name}", f"{bw:.0f}×{bh:.0f} px") for name, (bw, bh) in zip(shapes, sizes.tolist())]
    legend = (("chosen cell", ARROW),) + tuple((name, tuple(int(v) for v in c)) for name, c in zip(shapes, colors)) \
        + legend
    return ViewFrame(layers, caption, rows, index, m + 1, f"Scale k={k}/{m}", legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    state = DefaultBoxViewState(point=request.point, step=request.step)
    return default_boxes_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "default-boxes", "SSD default boxes", _build, step_count=counted(default_boxes_steps), needs="default_boxes",
    cannot_show="it is not an SSD (it has no default boxes)", click="point", reads_anchors=True,
    help="Steps: one feature-map scale k at a time, then the paper's scales beside the model's. Click: the default "
         "boxes of the cell under the point.")
