"""Anchors view (Faster R-CNN's RPN, RetinaNet, and any model with an anchor generator).

Per level: the table of the generator's own output (feature size, stride, sizes, ratios, count);
all anchors of a level, or of every level, as one BoxLayer per level; colour by the head's
objectness, by level, or - with ground truth - by the training label the model's own rule gives
(training_labels: the RPN's Matcher 0.7 / 0.3, SSD's SSDMatcher 0.5, RetinaNet's 0.5 / 0.4, read from
the loaded model) and the anchors one training step uses; and the anchors of the feature cell under a
clicked point on every level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import AnchorSet, Inference, MatchRule
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.geometry import all_anchor_boxes, level_grid, level_offsets
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    IGNORED,
    NEGATIVE,
    POSITIVE,
    BoxLayer,
    GtPair,
    SegmentLayer,
    ViewError,
    ViewFrame,
    as_gt,
    colormap,
    cross_segments,
    fmt_int,
    fmt_num,
    gt_layer,
    memo,
    solid,
)
from detviewer.render.model.spec import Control, ViewRequest, ViewSpec, counted
from detviewer.render.model.views.notation import S_K
from detviewer.render.model.views.training_labels import (
    AnchorLabels,
    anchor_rule,
    label_anchors,
    label_legend,
    label_sentence,
    rule_sentence,
)

__all__ = ["AnchorViewState", "AnchorLevelInfo", "CellAnchors", "anchor_table", "anchors_at_point",
           "anchors_frame", "anchors_steps", "level_sentence", "COLOR_MODES"]

COLOR_MODES = ("auto", "objectness", "level", "label")


@dataclass(frozen=True)
class AnchorViewState:
    """What the user chose.

    level: index into ``inference.anchors`` or None for every level; color_by: one of COLOR_MODES
    ("auto": label with ground truth, else objectness when the head gave it, else level);
    point (x, y) original pixels: show the anchors of the cell under it on every level;
    minibatch: with ground truth, show only the anchors one training step uses (``seed``);
    rule: label with this MatchRule instead of the model's own (Inference.rules);
    step: lecture-mode step (level ``step``, the last step = all levels); overrides ``level``.
    """

    level: int | None = None
    color_by: str = "auto"
    point: tuple[float, float] | None = None
    minibatch: bool = False
    seed: int = 0
    rule: MatchRule | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        if self.color_by not in COLOR_MODES:
            raise ValueError(f"color_by must be one of {COLOR_MODES}, got {self.color_by!r}")


@dataclass(frozen=True)
class AnchorLevelInfo:
    """One row of the per-level table. stride (sy, sx) in model-input pixels between cell centres."""

    level: int
    name: str
    feature_size: tuple[int, int]
    stride: tuple[float, float]
    sizes: tuple[float, ...]
    aspect_ratios: tuple[float, ...]
    scales: tuple[float, ...]
    per_location: int
    count: int


@dataclass(frozen=True, eq=False)
class CellAnchors:
    """The anchors of one feature cell: boxes (A, 4) xyxy original pixels, index (A,) flat anchor indices."""

    level: int
    cell: tuple[int, int]
    centre: tuple[float, float]
    boxes: np.ndarray
    index: np.ndarray


def _require_anchors(inference: Inference) -> None:
    if not inference.anchors:
        raise ViewError(f"{inference.model_name} has no anchors to show (it is not an anchor-based detector).")


def _input_stride(anchors: AnchorSet, scale: tuple[float, float]) -> tuple[float, float]:
    grid = level_grid(anchors, scale)
    return grid.step[1] * scale[0], grid.step[0] * scale[1]


def anchor_table(inference: Inference) -> list[AnchorLevelInfo]:
    """One row per level, read from the AnchorSets the model's generator produced."""
    return [AnchorLevelInfo(a.level, a.name or f"level {a.level}", tuple(a.feature_size),
                            _input_stride(a, inference.scale), tuple(a.sizes), tuple(a.aspect_ratios),
                            tuple(a.scales), a.anchors_per_location, len(a))
            for a in inference.anchors]


def _join(values: ArrayLike) -> str:
    return "/".join(fmt_num(v) for v in values)


def _stride_text(stride: tuple[float, float]) -> str:
    sy, sx = stride
    return fmt_num(sx, 1) if abs(sy - sx) < 0.05 else f"{fmt_num(sx, 1)}×{fmt_num(sy, 1)}"


def _level_key(info: AnchorLevelInfo) -> str:
    generic = not info.name or info.name.split(" ")[0] in ("level", "scale")
    return f"Level {info.level + 1}" + ("" if generic else f" ({info.name})")


def _plural(n: int, one: str, many: str) -> str:
    return f"{fmt_int(n)} {one if n == 1 else many}"


def level_sentence(info: AnchorLevelInfo, level_count: int) -> str:
    """'Level 3 of 5: 50×68 cells, stride 16, 3 anchors per cell (sizes 128, ratios 0.5/1/2) — 10,200 anchors'."""
    h, w = info.feature_size
    if info.scales:  # SSD default boxes
        shape = f"{S_K} {fmt_num(info.scales[0])}, ratios {_join(info.aspect_ratios)}"
        return (f"Scale {info.level + 1} of {level_count}: {h}×{w} cells, step {_stride_text(info.stride)}, "
                f"{info.per_location} boxes per cell ({shape}) — {fmt_int(info.count)} default boxes")
    shape = f"sizes {_join(info.sizes)}, ratios {_join(info.aspect_ratios)}"
    return (f"Level {info.level + 1} of {level_count}: {h}×{w} cells, stride {_stride_text(info.stride)}, "
            f"{info.per_location} anchors per cell ({shape}) — {fmt_int(info.count)} anchors")


def anchors_at_point(inference: Inference, point_xy: tuple[float, float]) -> list[CellAnchors]:
    """The anchors centred at the feature cell under ``point_xy`` (original pixels), on every level.

    Levels whose map does not cover the point are left out.
    """
    offsets = level_offsets(inference)
    out = []
    for level, anchors in enumerate(inference.anchors):
        grid = level_grid(anchors, inference.scale)
        cell = grid.cell_at(point_xy)
        if cell is None:
            continue
        y, x = cell
        a = anchors.anchors_per_location
        start = (y * anchors.feature_size[1] + x) * a
        out.append(CellAnchors(level, cell, grid.centre(y, x), anchors.at_cell(y, x).copy(),
                               np.arange(start, start + a, dtype=np.int64) + offsets[level]))
    return out


def anchors_steps(inference: Inference, gt: GtPair | None = None) -> int:
    """Lecture steps: one per level, then all levels together (a single level: one step)."""
    n = len(inference.anchors)
    return n + 1 if n > 1 else max(n, 1)


def _shown_levels(inference: Inference, state: AnchorViewState) -> tuple[list[int], int]:
    n = len(inference.anchors)
    steps = anchors_steps(inference)
    if state.step is not None:
        step = min(max(int(state.step), 0), steps - 1)
        return (list(range(n)) if step >= n else [step]), step
    if state.level is None:
        return list(range(n)), steps - 1
    if not 0 <= state.level < n:
        raise ViewError(f"{inference.model_name} has {n} anchor levels; level {state.level} does not exist.")
    return [int(state.level)], int(state.level)


#: With every level drawn at once, each level shows the anchors of at most this many cells, spread evenly over
#: its grid: all 16,320 outlines of an FPN together were one blue sheet; a sample shows each level's shapes.
CELLS_PER_LEVEL = 16


def sampled_cells(anchors: AnchorSet, max_cells: int = CELLS_PER_LEVEL) -> np.ndarray:
    """Indices into ``anchors.boxes`` of every anchor of an even sample of at most ``max_cells`` feature cells
    (every k-th row and column, centred), in the generator's (y, x, anchor) order."""
    h, w = (int(v) for v in anchors.feature_size)
    a = int(anchors.anchors_per_location)
    k = max(1, int(np.ceil(np.sqrt(h * w / max(max_cells, 1)))))
    ys, xs = np.arange(k // 2, h, k), np.arange(k // 2, w, k)
    cells = (ys[:, None] * w + xs[None, :]).reshape(-1)
    return (cells[:, None] * a + np.arange(a)[None, :]).reshape(-1).astype(np.int64)


def _drawn_mask(inference: Inference, levels: list[int]) -> np.ndarray | None:
    """(total anchors,) bool: the anchors drawn when every level is shown (``sampled_cells`` of each); None when
    one level is shown (all of its anchors are drawn)."""
    if len(levels) < 2:
        return None
    offsets = level_offsets(inference)
    mask = np.zeros(int(offsets[-1]), bool)
    for i in levels:
        mask[offsets[i] + sampled_cells(inference.anchors[i])] = True
    return mask


def _alpha_for(count: int) -> int:
    # Tens of thousands of thin overlapping outlines saturate to a solid sheet unless faint.
    return 220 if count < 2_000 else 140 if count < 20_000 else 70


def _color_mode(inference: Inference, state: AnchorViewState, gt: GtPair | None) -> str:
    mode = state.color_by
    if mode == "auto":
        if gt is not None and (state.rule or anchor_rule(inference)) is not None:
            return "label"
        return "objectness" if all(a.objectness is not None for a in inference.anchors) else "level"
    if mode == "label" and gt is None:
        raise ViewError("Colouring anchors by training label needs ground truth; load annotations for this image.")
    if mode == "objectness" and any(a.objectness is None for a in inference.anchors):
        raise ViewError(f"{inference.model_name} gave no per-anchor scores to colour the anchors by.")
    return mode


def _by_objectness(anchors: AnchorSet, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes, colours, flat index) sorted by objectness: the most confident drawn last, on top."""
    order = np.argsort(anchors.objectness, kind="stable")
    colors = colormap(anchors.objectness[order], "viridis", 0.0, 1.0)
    return anchors.boxes[order], colors, order.astype(np.int64) + offset


def _level_layers(inference: Inference, levels: list[int], mode: str) -> list[BoxLayer]:
    offsets = level_offsets(inference)
    layers = []
    drawn = _drawn_mask(inference, levels)
    total = sum(len(inference.anchors[i]) for i in levels) if drawn is None else int(drawn.sum())
    alpha = _alpha_for(total)
    for i in levels:
        anchors = inference.anchors[i]
        n = len(anchors)
        if mode == "objectness":
            boxes, colors, index = memo(inference, ("objectness_layer", i),
                                        lambda anchors=anchors, i=i: _by_objectness(anchors, int(offsets[i])))
        else:
            boxes, colors = anchors.boxes, solid(PALETTE[i % len(PALETTE)], n)
            index = np.arange(offsets[i], offsets[i] + n, dtype=np.int64)
        if drawn is not None:
            keep = drawn[index]
            boxes, colors, index = boxes[keep], colors[keep], index[keep]
        layers.append(BoxLayer(f"anchors_L{i}", boxes, colors, index, width=1.0, alpha=alpha))
    return layers


def _label_layers(inference: Inference, levels: list[int], labels: AnchorLabels, minibatch: bool) -> list[BoxLayer]:
    offsets = level_offsets(inference)
    in_levels = np.zeros(int(offsets[-1]), bool)
    for i in levels:
        in_levels[offsets[i]:offsets[i + 1]] = True
    boxes = memo(inference, ("all_boxes",), lambda: all_anchor_boxes(inference))
    drawn = _drawn_mask(inference, levels)
    if drawn is not None and not minibatch:  # every positive, the rest of a sample of cells
        in_levels &= drawn | (labels.labels == 1)
    if minibatch:
        groups = [("minibatch_negative", labels.sampled_negative, NEGATIVE, 1.5, 200),
                  ("minibatch_positive", labels.sampled_positive, POSITIVE, 2.5, 255)]
    else:
        count = int(in_levels.sum())
        # tens of thousands of negatives would bury the few positives: the more there are, the fainter
        negative_alpha = 90 if count < 2_000 else 40 if count < 20_000 else 25
        groups = [("anchors_negative", np.flatnonzero(labels.labels == 0), NEGATIVE, 1.0, negative_alpha),
                  ("anchors_ignored", np.flatnonzero(labels.labels == -1), IGNORED, 1.0, 150),
                  ("anchors_positive", np.flatnonzero(labels.labels == 1), POSITIVE, 2.0, 255)]
    layers = []
    for name, index, color, width, alpha in groups:
        index = index[in_levels[index]]
        layers.append(BoxLayer(name, boxes[index], solid(color, len(index)), index.astype(np.int64),
                               width=width, alpha=alpha))
    return layers


def _point_layers(inference: Inference, point: tuple[float, float]) -> tuple[list, list[tuple[str, str]], str]:
    cells = anchors_at_point(inference, point)
    layers: list = []
    rows = [("Point", f"({fmt_num(point[0], 1)}, {fmt_num(point[1], 1)})")]
    if cells:
        grids = {c.level: level_grid(inference.anchors[c.level], inference.scale) for c in cells}
        rects = np.stack([grids[c.level].cell_rect(*c.cell) for c in cells])
        level_colors = np.stack([PALETTE[c.level % len(PALETTE)] for c in cells])
        layers.append(BoxLayer("point_cells", rects, level_colors, np.array([c.level for c in cells], np.int64),
                               width=1.5, dashed=True, fill_alpha=40))
        boxes = np.concatenate([c.boxes for c in cells])
        index = np.concatenate([c.index for c in cells])
        colors = np.concatenate([solid(PALETTE[c.level % len(PALETTE)], len(c.boxes)) for c in cells])
        sizes = boxes[:, 2:] - boxes[:, :2]
        level_of = np.concatenate([np.full(len(c.boxes), c.level) for c in cells])
        texts = tuple(f"L{lv + 1} {w:.0f}×{h:.0f}" for lv, (w, h) in zip(level_of.tolist(), sizes.tolist()))
        layers.append(BoxLayer("point_anchors", boxes, colors, index, labels=texts, width=2.0))
        for c in cells:
            rows.append((f"Level {c.level + 1} cell", f"row {c.cell[0] + 1}, column {c.cell[1] + 1} · centre "
                         f"({fmt_num(c.centre[0], 1)}, {fmt_num(c.centre[1], 1)}) · {len(c.boxes)} anchors"))
    layers.append(SegmentLayer("point_marker", cross_segments([point], 8.0), solid(ARROW, 2), width=2.5))
    count = sum(len(c.boxes) for c in cells)
    sentence = (f" The point ({point[0]:.0f}, {point[1]:.0f}) falls in one cell per level: its {count} anchors on "
                f"{len(cells)} levels are outlined in the level colours.")
    return layers, rows, sentence


def _label_part(inference: Inference, levels: list[int], state: AnchorViewState, gt: GtPair
                ) -> tuple[list, list, str, tuple]:
    """Layers, table rows, caption sentence and legend of the training labels under the model's rule."""
    labels = label_anchors(inference, gt[0], state.rule, state.seed)
    rule = labels.rule
    layers = _label_layers(inference, levels, labels, state.minibatch)
    pos, neg, ign = (int((labels.labels == v).sum()) for v in (1, 0, -1))
    shown = np.concatenate([np.arange(*level_offsets(inference)[i:i + 2]) for i in levels])
    rows = [("Positive (all levels)", fmt_int(pos)), ("Negative", fmt_int(neg))]
    if rule.bg_iou < rule.fg_iou:
        rows.append(("Ignored", fmt_int(ign)))
    n_pos, n_neg = len(labels.sampled_positive), len(labels.sampled_negative)
    rows.append(("One training step", f"{fmt_int(n_pos)} positive + {fmt_int(n_neg)} negative"))
    if state.minibatch:
        what = "hard negatives (the most object-like background boxes)" if rule.neg_to_pos > 0 else "negatives"
        sentence = (f" One training step: {fmt_int(n_pos)} positives and {fmt_int(n_neg)} {what}. "
                    f"{rule_sentence(rule)}")
    else:
        where = "here" if len(levels) == len(inference.anchors) else "on this level"
        boxes_text = _plural(len(gt[0]), "ground-truth box", "ground-truth boxes")
        sentence = f" Labels for {boxes_text}, {where}: {label_sentence(labels, shown)}. {rule_sentence(rule)}"
    return layers, rows, sentence, label_legend(rule, sampled=state.minibatch)


def _colour_legend(inference: Inference, levels: list[int], mode: str) -> tuple:
    if mode == "objectness":
        return tuple((f"objectness {fmt_num(v)}", tuple(colormap([v])[0].tolist())) for v in (0.0, 0.5, 1.0))
    return tuple((f"level {i + 1}", tuple(int(v) for v in PALETTE[i % len(PALETTE)])) for i in levels)


def anchors_frame(inference: Inference, state: AnchorViewState = AnchorViewState(),
                  gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """The anchors view for ``state``; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    _require_anchors(inference)
    gt = as_gt(gt)
    levels, step = _shown_levels(inference, state)
    mode = _color_mode(inference, state, gt)
    table_info = anchor_table(inference)
    n_levels = len(table_info)
    word = "default boxes" if table_info[0].scales else "anchors"

    rows = [(_level_key(info),
             f"{info.feature_size[0]}×{info.feature_size[1]} · stride {_stride_text(info.stride)} · "
             f"{info.per_location}/cell · {fmt_int(info.count)}") for info in table_info]
    rows.append(("Total", f"{fmt_int(inference.anchor_count)} {word}"))
    if len(levels) == 1:
        caption = level_sentence(table_info[levels[0]], n_levels) + "."
        label = f"Level {levels[0] + 1}/{n_levels}"
    else:
        counts = " + ".join(fmt_int(table_info[i].count) for i in levels)
        caption = (f"All {n_levels} levels together: {counts} = {fmt_int(inference.anchor_count)} {word}; drawn: "
                   f"those of {CELLS_PER_LEVEL} evenly spread cells per level, so each level's shapes show.")
        label = "All levels"

    layers: list = []
    if mode == "label":
        label_layers, label_rows, sentence, legend = _label_part(inference, levels, state, gt)
        layers += label_layers
        rows += label_rows
        caption += sentence
    else:
        layers += _level_layers(inference, levels, mode)
        legend = _colour_legend(inference, levels, mode)
        if mode == "objectness":
            caption += " Colour: the head's objectness, dark = background, yellow = object."
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
        legend += (("ground truth", GT_COLOR),)
    if state.point is not None:
        point_layers, point_rows, sentence = _point_layers(inference, state.point)
        layers += point_layers
        rows += point_rows
        caption += sentence
        cell_levels = sorted(set(point_layers[0].index.tolist())) if len(point_layers) > 1 else []
        legend += tuple((f"level {i + 1}", tuple(int(v) for v in PALETTE[i % len(PALETTE)]))
                        for i in cell_levels if mode != "level" or i not in levels)
        legend += (("clicked point", ARROW),)
    shown = sum(len(inference.anchors[i]) for i in levels)
    dim = 0.35 if shown > 2_000 else 0.0  # thousands of thin outlines read better over a darker frame
    return ViewFrame(layers, caption, rows, step, anchors_steps(inference), label, legend=legend, dim=dim)


def _build(request: ViewRequest) -> ViewFrame:
    c = request.controls
    state = AnchorViewState(color_by=c["color_by"], minibatch=c["minibatch"], point=request.point, step=request.step)
    return anchors_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "anchors", "Anchors", _build, step_count=counted(anchors_steps), needs="anchors", cannot_show="it has no anchors",
    reads_anchors=True,
    controls=(Control("color_by", "Colour by", "choice", "auto", COLOR_MODES,
                      tooltip="auto: training label with ground truth, else the head's objectness"),
              Control("minibatch", "One training minibatch", "bool", False,
                      tooltip="With ground truth: only the anchors one training step of the model uses")),
    click="point", help="Steps: one feature level at a time, then all. Click: the anchors of the cell under the "
                        "point on every level.")
