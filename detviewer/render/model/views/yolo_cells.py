"""Multi-scale YOLO view (ONNX YOLOv5 / v8 / 11, ``Inference.yolo_cells``): the stride level and grid cell
each detection was predicted by.

Step 0 is the overview: every detection coloured by its level, with the head's levels and prediction
counts in the table. Then one step per detection (highest score first): that level's grid over the
frame, the predicting cell filled, the box and its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Inference, YoloCells
from detviewer.render.model.colors import PALETTE, class_colors
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    BoxLayer,
    SegmentLayer,
    ViewError,
    ViewFrame,
    as_gt,
    cross_segments,
    fmt_int,
    grid_lines,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import ViewRequest, ViewSpec, counted

__all__ = ["YoloCellsViewState", "yolo_cells_frame", "yolo_cells_steps", "level_grid_segments", "MAX_STEPS"]

MAX_STEPS = 30  # detections a lecture steps through (the highest-scoring ones)
LEVEL_COLORS = PALETTE[[0, 2, 1, 4, 3]]  # stride 8, 16, 32, 64, 128


@dataclass(frozen=True)
class YoloCellsViewState:
    """detection: index into ``inference.detections`` to explain (None: overview); step: lecture step
    (0 overview, k the k-th detection), overrides ``detection``."""

    detection: int | None = None
    step: int | None = None


def _cells(inference: Inference) -> YoloCells:
    if inference.yolo_cells is None:
        raise ViewError(f"{inference.model_name} has no multi-scale YOLO head; this view needs a YOLO model "
                        "exported to ONNX (yolo-onnx).")
    return inference.yolo_cells


def yolo_cells_steps(inference: Inference, gt=None) -> int:
    return 1 + min(len(inference.detections), MAX_STEPS)


def level_grid_segments(cells: YoloCells, level: int, image_size: tuple[int, int]) -> np.ndarray:
    """Grid lines (N, 4) of one level in original pixels, clipped to the (H, W) frame (the letterbox
    padding has no image under it)."""
    stride, rows, cols = cells.levels[level]
    scale, pad_x, pad_y = cells.letterbox
    height, width = image_size
    xs = (np.arange(cols + 1) * stride - pad_x) / scale
    ys = (np.arange(rows + 1) * stride - pad_y) / scale
    xs = xs[(xs >= 0) & (xs <= width)]
    ys = ys[(ys >= 0) & (ys <= height)]
    return grid_lines(xs, ys, (0.0, width), (0.0, height))


def _layout_words(cells: YoloCells) -> str:
    sizes = " + ".join(f"{c}×{r}" for _, r, c in cells.levels)
    per_cell = (f"{cells.anchors_per_cell} anchor boxes per cell" if cells.anchors_per_cell > 1
                else "one box per cell (anchor-free)")
    return f"{len(cells.levels)} levels, {sizes} cells, {per_cell}: {fmt_int(cells.prediction_count)} predictions"


def _chosen(inference: Inference, state: YoloCellsViewState) -> tuple[int | None, int]:
    """(the detection to explain or None, the lecture step)."""
    steps = yolo_cells_steps(inference)
    if state.step is not None:
        step = int(np.clip(state.step, 0, steps - 1))
        return (None if step == 0 else step - 1), step
    det = inference.detections
    chosen = state.detection if state.detection is not None and 0 <= state.detection < len(det) else None
    return chosen, 0 if chosen is None or chosen >= MAX_STEPS else chosen + 1


def _level_rows(inference: Inference, cells: YoloCells) -> list[tuple[str, str]]:
    a = cells.anchors_per_cell
    rows = [(f"stride {s}", f"{c}×{r} cells × {a} = {fmt_int(r * c * a)}") for s, r, c in cells.levels]
    return rows + [("Predictions", fmt_int(cells.prediction_count)),
                   ("NMS candidates", fmt_int(len(inference.candidates))),
                   ("Detections", fmt_int(len(inference.detections)))]


def yolo_cells_frame(inference: Inference, state: YoloCellsViewState = YoloCellsViewState(), gt=None) -> ViewFrame:
    cells = _cells(inference)
    gt = as_gt(gt)
    det = inference.detections
    steps = yolo_cells_steps(inference)
    chosen, step = _chosen(inference, state)
    kept = cells.kept
    rows = _level_rows(inference, cells)
    layers: list = []
    legend = tuple((f"stride {stride}", tuple(int(v) for v in LEVEL_COLORS[i % len(LEVEL_COLORS)]))
                   for i, (stride, _, _) in enumerate(cells.levels))
    if gt is not None:
        layers.append(gt_layer(gt, det.class_names))
        legend += (("ground truth", GT_COLOR),)
    if chosen is None:
        level = cells.level[kept]
        texts = tuple(f"{det.name_of(det.labels[i])} {det.scores[i]:.2f} · s{cells.levels[level[i]][0]}"
                      for i in range(len(det)))
        layers.append(BoxLayer("detections_by_level", det.xyxy, LEVEL_COLORS[level % len(LEVEL_COLORS)],
                               np.arange(len(det), dtype=np.int64), labels=texts, width=2.5))
        counts = np.bincount(level, minlength=len(cells.levels))
        by_level = ", ".join(f"{n} from stride {s}" for n, (s, _, _) in zip(counts.tolist(), cells.levels))
        caption = (f"{inference.model_name}: {_layout_words(cells)}. Each detection was predicted by one cell of "
                   f"one level, coloured by level: {by_level or 'no detections'} (small objects come from the fine "
                   "levels, large ones from the coarse).")
        return ViewFrame(layers, caption, rows, step, steps, "All detections", legend=legend)

    k = int(kept[chosen])
    level, col, row, anchor = (int(a[k]) for a in (cells.level, cells.col, cells.row, cells.anchor))
    stride, grid_rows, grid_cols = cells.levels[level]
    box = det.xyxy[chosen:chosen + 1]
    cell = cells.cell_rect(level, col, row)[None]
    centre = np.array([[(box[0, 0] + box[0, 2]) / 2, (box[0, 1] + box[0, 3]) / 2]], np.float32)
    name = det.name_of(det.labels[chosen])
    colour = LEVEL_COLORS[level % len(LEVEL_COLORS)]
    layers += [
        SegmentLayer("level_grid", level_grid_segments(cells, level, inference.image_size), colour, width=1.0,
                     alpha=120),
        BoxLayer("predicting_cell", cell, solid(ARROW, 1), np.zeros(1, np.int64), width=2.5, fill_alpha=110),
        BoxLayer("detection", box, class_colors(det.labels[chosen:chosen + 1]), np.array([chosen], np.int64),
                 labels=(f"{name} {det.scores[chosen]:.2f}",), width=3.0),
        SegmentLayer("centre", cross_segments(centre, 6.0), solid(ARROW, 2), width=2.0),
    ]
    anchor_words = f", anchor {anchor + 1} of {cells.anchors_per_cell}" if anchor >= 0 else ""
    caption = (f"{name} {det.scores[chosen]:.2f} was predicted by cell (column {col}, row {row}) of the "
               f"stride-{stride} "
               f"map ({grid_cols}×{grid_rows} cells{anchor_words}), filled yellow; its grid is drawn over the frame. "
               f"That cell's prediction, one of the head's {fmt_int(cells.prediction_count)}, holds the box "
               f"(cx, cy, w, h) and the class scores.")
    rows = [("Level", f"{level + 1} of {len(cells.levels)}"), ("Stride", f"{stride} px"),
            ("Grid", f"{grid_cols}×{grid_rows}"), ("Cell (col, row)", f"({col}, {row})")]
    if anchor >= 0:
        rows.append(("Anchor", f"{anchor + 1} of {cells.anchors_per_cell}"))
    x1, y1, x2, y2 = (float(v) for v in box[0])
    rows += [("Score", f"{det.scores[chosen]:.3f}"), ("Box", f"{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}")]
    legend = ((("predicting cell", ARROW), (f"stride-{stride} grid", tuple(int(v) for v in colour)))
              + legend[len(cells.levels):])
    return ViewFrame(layers, caption, rows, step, steps, f"{name} · stride {stride}", legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    state = YoloCellsViewState(detection=request.picked, step=request.step)
    return yolo_cells_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "yolo-cells", "YOLO levels and cells", _build, step_count=counted(yolo_cells_steps), needs="yolo_cells",
    cannot_show="it has no multi-scale YOLO head (export a YOLO to ONNX and load it as yolo-onnx)",
    click="detection", help="Steps: the levels, then each detection with the cell that predicted it. Click a "
                            "detection to explain it.")
