"""Anchors view (Faster R-CNN's RPN, RetinaNet, and any model with an anchor generator).

Per level: the table of the generator's own output (feature size, stride, sizes, ratios, count);
all anchors of a level, or of every level, as one BoxLayer per level; colour by the head's
objectness, by level, or - with ground truth - by the RPN's training label (positive / negative /
ignored, torchvision's Matcher) and one sampled minibatch of 256; and the anchors of the feature
cell under a clicked point on every level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.types import AnchorSet, Inference
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.geometry import all_anchor_boxes, level_grid, level_offsets
from detviewer.render.model.spec import Control, ViewRequest, ViewSpec, counted
from detviewer.render.model.primitives import (
    ARROW, IGNORED, NEGATIVE, POSITIVE, BoxLayer, SegmentLayer, ViewError, ViewFrame, as_gt, colormap,
    cross_segments, fmt_int, fmt_num, gt_layer, memo, solid,
)

__all__ = ["AnchorViewState", "AnchorLevelInfo", "CellAnchors", "RpnLabels", "anchor_table", "anchors_at_point",
           "rpn_labels", "anchors_frame", "anchors_steps", "COLOR_MODES"]

COLOR_MODES = ("auto", "objectness", "level", "label")


@dataclass(frozen=True)
class AnchorViewState:
    """What the user chose.

    level: index into ``inference.anchors`` or None for every level; color_by: one of COLOR_MODES
    ("auto": label with ground truth, else objectness when the head gave it, else level);
    point (x, y) original pixels: show the anchors of the cell under it on every level;
    minibatch: with ground truth, show only one sampled RPN training minibatch (``seed``);
    fg_iou / bg_iou: the RPN's matcher thresholds (torchvision: 0.7 / 0.3);
    step: lecture-mode step (level ``step``, the last step = all levels); overrides ``level``.
    """

    level: int | None = None
    color_by: str = "auto"
    point: tuple[float, float] | None = None
    minibatch: bool = False
    seed: int = 0
    fg_iou: float = 0.7
    bg_iou: float = 0.3
    batch_size: int = 256
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


@dataclass(frozen=True, eq=False)
class RpnLabels:
    """RPN training labels of every anchor (flat order).

    labels (K,) int8 1 positive / 0 negative / -1 ignored; matched_gt (K,) int64; max_iou (K,)
    float32; sampled_positive / sampled_negative: flat indices of one sampled minibatch.
    """

    labels: np.ndarray
    matched_gt: np.ndarray
    max_iou: np.ndarray
    sampled_positive: np.ndarray
    sampled_negative: np.ndarray


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


def _join(values) -> str:
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
        shape = f"s_k {fmt_num(info.scales[0])}, ratios {_join(info.aspect_ratios)}"
        return (f"Scale {info.level + 1} of {level_count}: {h}×{w} cells, step {_stride_text(info.stride)}, "
                f"{info.per_location} boxes per cell ({shape}) — {fmt_int(info.count)} default boxes")
    shape = f"sizes {_join(info.sizes)}, ratios {_join(info.aspect_ratios)}"
    return (f"Level {info.level + 1} of {level_count}: {h}×{w} cells, stride {_stride_text(info.stride)}, "
            f"{info.per_location} anchors per cell ({shape}) — {fmt_int(info.count)} anchors")


def anchors_at_point(inference: Inference, point_xy) -> list[CellAnchors]:
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


def rpn_labels(inference: Inference, gt_boxes, *, fg_iou: float = 0.7, bg_iou: float = 0.3,
               batch_size: int = 256, positive_fraction: float = 0.5, seed: int = 0) -> RpnLabels:
    """Label every anchor as the RPN's training does (core.assign, torchvision's Matcher and sampler).

    gt_boxes (M, 4) xyxy original pixels (IoU does not change with the resize, so original pixels
    give the same labels as the model's input pixels).
    """
    from detviewer.ops.assign import label_rpn_anchors, sample_rpn_minibatch

    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)

    def compute() -> RpnLabels:
        labels, matched, max_iou = label_rpn_anchors(all_anchor_boxes(inference), gt_boxes, fg_iou, bg_iou)
        positive, negative = sample_rpn_minibatch(labels, batch_size, positive_fraction, seed=seed)
        return RpnLabels(labels, matched, max_iou, positive, negative)

    key = ("rpn_labels", gt_boxes.tobytes(), fg_iou, bg_iou, batch_size, positive_fraction, seed)
    return memo(inference, key, compute)


def anchors_steps(inference: Inference, gt=None) -> int:
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


def _alpha_for(count: int) -> int:
    # Tens of thousands of thin overlapping outlines saturate to a solid sheet unless faint.
    return 220 if count < 2_000 else 140 if count < 20_000 else 70


def _color_mode(inference: Inference, state: AnchorViewState, gt) -> str:
    mode = state.color_by
    if mode == "auto":
        if gt is not None:
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
    total = sum(len(inference.anchors[i]) for i in levels)
    alpha = _alpha_for(total)
    for i in levels:
        anchors = inference.anchors[i]
        n = len(anchors)
        if mode == "objectness":
            boxes, colors, index = memo(inference, ("objectness_layer", i),
                                        lambda: _by_objectness(anchors, int(offsets[i])))
        else:
            boxes, colors = anchors.boxes, solid(PALETTE[i % len(PALETTE)], n)
            index = np.arange(offsets[i], offsets[i] + n, dtype=np.int64)
        layers.append(BoxLayer(f"anchors_L{i}", boxes, colors, index, width=1.0, alpha=alpha))
    return layers


def _label_layers(inference: Inference, levels: list[int], labels: RpnLabels, minibatch: bool) -> list[BoxLayer]:
    offsets = level_offsets(inference)
    in_levels = np.zeros(int(offsets[-1]), bool)
    for i in levels:
        in_levels[offsets[i]:offsets[i + 1]] = True
    boxes = memo(inference, ("all_boxes",), lambda: all_anchor_boxes(inference))
    if minibatch:
        groups = [("minibatch_negative", labels.sampled_negative, NEGATIVE, 1.5, 200),
                  ("minibatch_positive", labels.sampled_positive, POSITIVE, 2.5, 255)]
    else:
        count = int(in_levels.sum())
        groups = [("anchors_negative", np.flatnonzero(labels.labels == 0), NEGATIVE, 1.0, min(_alpha_for(count), 90)),
                  ("anchors_ignored", np.flatnonzero(labels.labels == -1), IGNORED, 1.0, 150),
                  ("anchors_positive", np.flatnonzero(labels.labels == 1), POSITIVE, 2.0, 255)]
    layers = []
    for name, index, color, width, alpha in groups:
        index = index[in_levels[index]]
        layers.append(BoxLayer(name, boxes[index], solid(color, len(index)), index.astype(np.int64),
                               width=width, alpha=alpha))
    return layers


def _point_layers(inference: Inference, point) -> tuple[list, list[tuple[str, str]], str]:
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
            rows.append((f"Level {c.level + 1} cell", f"row {c.cell[0]}, col {c.cell[1]} · centre "
                         f"({fmt_num(c.centre[0], 1)}, {fmt_num(c.centre[1], 1)}) · {len(c.boxes)} anchors"))
    layers.append(SegmentLayer("point_marker", cross_segments([point], 8.0), solid(ARROW, 2), width=2.5))
    count = sum(len(c.boxes) for c in cells)
    sentence = (f" The point ({point[0]:.0f}, {point[1]:.0f}) falls in one cell per level: its {count} anchors on "
                f"{len(cells)} levels are outlined in the level colours.")
    return layers, rows, sentence


def anchors_frame(inference: Inference, state: AnchorViewState = AnchorViewState(), gt=None) -> ViewFrame:
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
        caption = f"All {n_levels} levels together: {counts} = {fmt_int(inference.anchor_count)} {word}."
        label = "All levels"

    layers: list = []
    if mode == "label":
        labels = rpn_labels(inference, gt[0], fg_iou=state.fg_iou, bg_iou=state.bg_iou,
                            batch_size=state.batch_size, seed=state.seed)
        layers += _label_layers(inference, levels, labels, state.minibatch)
        pos, neg, ign = (int((labels.labels == v).sum()) for v in (1, 0, -1))
        shown = np.concatenate([np.arange(*level_offsets(inference)[i:i + 2]) for i in levels])
        s_pos, s_neg, s_ign = (int((labels.labels[shown] == v).sum()) for v in (1, 0, -1))
        rows += [("Positive (all levels)", f"{fmt_int(pos)} (IoU ≥ {fmt_num(state.fg_iou)} or best for a box)"),
                 ("Negative", f"{fmt_int(neg)} (IoU < {fmt_num(state.bg_iou)})"),
                 ("Ignored", fmt_int(ign)),
                 ("Minibatch", f"{len(labels.sampled_positive)} positive + {len(labels.sampled_negative)} negative")]
        if state.minibatch:
            caption += (f" One training minibatch: {len(labels.sampled_positive)} positives and "
                        f"{len(labels.sampled_negative)} negatives drawn at random (at most half positive).")
        else:
            where = "here" if len(levels) == len(inference.anchors) else "on this level"
            boxes_text = _plural(len(gt[0]), "ground-truth box", "ground-truth boxes")
            caption += (f" Training labels for {boxes_text}, {where}: "
                        f"{fmt_int(s_pos)} positive (green), {fmt_int(s_neg)} negative (blue), "
                        f"{fmt_int(s_ign)} ignored (grey).")
    else:
        layers += _level_layers(inference, levels, mode)
        if mode == "objectness":
            caption += " Colour: the head's objectness, dark = background, yellow = object."
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    if state.point is not None:
        point_layers, point_rows, sentence = _point_layers(inference, state.point)
        layers += point_layers
        rows += point_rows
        caption += sentence
    return ViewFrame(layers, caption, rows, step, anchors_steps(inference), label)


def _build(request: ViewRequest) -> ViewFrame:
    c = request.controls
    state = AnchorViewState(color_by=c["color_by"], minibatch=c["minibatch"], point=request.point, step=request.step)
    return anchors_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "anchors", "Anchors", _build, step_count=counted(anchors_steps), needs="anchors", cannot_show="it has no anchors",
    controls=(Control("color_by", "Colour by", "choice", "auto", COLOR_MODES,
                      tooltip="auto: training label with ground truth, else the head's objectness"),
              Control("minibatch", "One training minibatch", "bool", False,
                      tooltip="With ground truth: only the anchors one RPN training step samples")),
    click="point", help="Steps: one feature level at a time, then all. Click: the anchors of the cell under the "
                        "point on every level.")
