"""YOLO grid view (YOLOv1-style GridPrediction): S×S grid lines, the cell responsible for each object
centre, the B boxes a selected cell predicts with their confidence, the class-probability map,
and the S×S×(5B + C) output layout of the selected cell with its values.

Layout per cell (detectors/yolo_v1.py): for box b, channels 5b … 5b + 4 are x, y, w, h,
confidence; channels 5B … 5B + C − 1 are the class scores. Label c + 1 names class channel c
(label 0 is the background). The caption and table set this model's S×S×(5B + C) beside YOLOv1's
7×7×30 (S = 7, B = 2, C = 20 PASCAL VOC classes, 448 px input): both predict S·S·B boxes per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import GridPrediction, Inference
from detviewer.render.model.colors import CELL_LINES, class_colors, spare_colors
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    BoxLayer,
    GtPair,
    HeatmapLayer,
    SegmentLayer,
    ViewError,
    ViewFrame,
    as_gt,
    cross_segments,
    fmt_num,
    grid_lines,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import Control, ViewRequest, ViewSpec, counted

__all__ = ["GridViewState", "grid_frame", "grid_steps", "object_cells", "cell_rects", "grid_segments",
           "tensor_layout", "yolo_v1_rows", "CLASS_MAPS", "YOLO_V1"]

CLASS_MAPS = ("argmax", "probability", "none")
#: The paper's YOLOv1 on PASCAL VOC: S, B, C and its input side.
YOLO_V1 = {"S": 7, "B": 2, "C": 20, "input": 448}


@dataclass(frozen=True)
class GridViewState:
    """cell (row, col), else the cell under ``point`` (x, y original pixels), else none (overview);
    class_map: "argmax" (each cell tinted by its best class), "probability" (heatmap of
    ``class_index``'s probability, or of the best class's when None) or "none";
    step: lecture-mode step (0 overview, then one per cell holding an object), overrides ``cell``."""

    cell: tuple[int, int] | None = None
    point: tuple[float, float] | None = None
    class_map: str = "argmax"
    class_index: int | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        if self.class_map not in CLASS_MAPS:
            raise ValueError(f"class_map must be one of {CLASS_MAPS}, got {self.class_map!r}")


def _grid(inference: Inference) -> GridPrediction:
    if inference.grid is None:
        raise ViewError(f"{inference.model_name} does not predict on a YOLO grid; the grid view needs a "
                        "YOLO model such as demo-yolo.")
    return inference.grid


def cell_rects(grid: GridPrediction) -> np.ndarray:
    """(S·S, 4) float32 xyxy original pixels of every cell, row-major."""
    s = grid.grid_size
    ch, cw = grid.cell_size
    rows, cols = np.divmod(np.arange(s * s), s)
    return np.stack([cols * cw, rows * ch, (cols + 1) * cw, (rows + 1) * ch], 1).astype(np.float32)


def grid_segments(grid: GridPrediction) -> np.ndarray:
    """The S + 1 vertical and S + 1 horizontal grid lines as segments (2S + 2, 4)."""
    s = grid.grid_size
    ch, cw = grid.cell_size
    xs = np.arange(s + 1) * cw
    ys = np.arange(s + 1) * ch
    return grid_lines(xs, ys, (0.0, s * cw), (0.0, s * ch))


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)


def object_cells(inference: Inference, gt: tuple[ArrayLike, ArrayLike] | None = None) -> list[tuple[int, int]]:
    """Cells (row, col) responsible for an object, row-major: ground-truth centres when given, else
    the centres of the model's detections."""
    from detviewer.ops.anchors import yolo_cell

    grid = _grid(inference)
    gt = as_gt(gt)
    boxes = gt[0] if gt is not None else inference.detections.xyxy
    cells = {yolo_cell(tuple(c), inference.image_size, grid.grid_size) for c in _centres(boxes).tolist()}
    return sorted(c for c in cells if c is not None)


def grid_steps(inference: Inference, gt: GtPair | None = None) -> int:
    """Lecture steps: the overview, then one per cell holding an object."""
    return 1 + len(object_cells(inference, gt))


def tensor_layout(inference: Inference, row: int, col: int) -> list[tuple[str, str]]:
    """The selected cell's slice of the S×S×(5B + C) output: one row per channel, raw value → meaning."""
    grid = _grid(inference)
    b_count = grid.boxes_per_cell
    raw = grid.raw[row, col]
    height, width = inference.image_size
    ch, cw = grid.cell_size
    rows = []
    for b in range(b_count):
        x1, y1, x2, y2 = grid.boxes[row, col, b].tolist()
        meanings = [f"{(x1 + x2) / 2 / cw - col:.2f} across the cell", f"{(y1 + y2) / 2 / ch - row:.2f} down the cell",
                    f"{(x2 - x1) / width:.2f} of the image width", f"{(y2 - y1) / height:.2f} of the image height",
                    f"{grid.confidence[row, col, b]:.2f} confidence"]
        for j, (name, meaning) in enumerate(zip(["x", "y", "w", "h", "conf"], meanings)):
            rows.append((f"[{5 * b + j}] box {b + 1} {name}", f"{raw[5 * b + j]:+.2f} → {meaning}"))
    names = inference.detections
    for c in range(grid.class_probs.shape[-1]):
        rows.append((f"[{5 * b_count + c}] P({names.name_of(c + 1)})",
                     f"{raw[5 * b_count + c]:+.2f} → {grid.class_probs[row, col, c]:.2f}"))
    return rows


def _select(inference: Inference, state: GridViewState,
            cells: list[tuple[int, int]]) -> tuple[tuple[int, int] | None, int]:
    from detviewer.ops.anchors import yolo_cell

    s = _grid(inference).grid_size
    if state.step is not None:
        step = min(max(int(state.step), 0), len(cells))
        return (cells[step - 1] if step > 0 else None), step
    cell = state.cell
    if cell is None and state.point is not None:
        cell = yolo_cell(tuple(state.point), inference.image_size, s)
    if cell is not None and not (0 <= cell[0] < s and 0 <= cell[1] < s):
        raise ViewError(f"cell {tuple(cell)} is outside the {s}×{s} grid.")
    if cell is None:
        return None, 0
    cell = (int(cell[0]), int(cell[1]))
    return cell, (cells.index(cell) + 1 if cell in cells else 0)


def yolo_v1_rows(s: int, b: int, c: int, input_side: int) -> list[tuple[str, str]]:
    """This model's S×S×(5B + C) and box count beside YOLOv1's (7×7×30, 98 boxes)."""
    v1 = YOLO_V1
    v1_depth = 5 * v1["B"] + v1["C"]
    return [("This model", f"S = {s}, B = {b}, C = {c}: {s}×{s}×(5·{b} + {c}) = {s}×{s}×{5 * b + c}, "
                           f"{s}·{s}·{b} = {s * s * b} boxes, {input_side} px input"),
            ("YOLOv1 (VOC)", f"S = {v1['S']}, B = {v1['B']}, C = {v1['C']}: {v1['S']}×{v1['S']}×(5·{v1['B']} + "
                             f"{v1['C']}) = {v1['S']}×{v1['S']}×{v1_depth}, {v1['S'] ** 2 * v1['B']} boxes, "
                             f"{v1['input']} px input")]


def _class_map_layer(inference: Inference, state: GridViewState):
    grid = _grid(inference)
    probs = grid.class_probs
    if state.class_map == "argmax":
        best = probs.reshape(-1, probs.shape[-1]).argmax(1)
        return BoxLayer("class_map", cell_rects(grid), class_colors(best + 1), np.arange(len(best), dtype=np.int64),
                        width=0.0, alpha=0, fill_alpha=80)
    if state.class_map == "probability":
        values = probs.max(-1) if state.class_index is None else probs[..., int(state.class_index)]
        s = grid.grid_size
        rect = (0.0, 0.0, s * grid.cell_size[1], s * grid.cell_size[0])
        return HeatmapLayer("class_probability", rect, values, "viridis", 130, (0.0, 1.0))
    return None


def _overview_caption(s: int, b_count: int, c_count: int, cells: int, what: str) -> str:
    v1 = YOLO_V1
    depth = 5 * b_count + c_count
    return (f"YOLO splits the image into a {s}×{s} grid; the cell that contains an object's centre is responsible "
            f"for it ({cells} cell{'s' if cells != 1 else ''} here, from the {what} centres). Each cell predicts "
            f"B = {b_count} boxes (x, y, w, h, confidence) and one set of C = {c_count} class probabilities: "
            f"{s}×{s}×(5·{b_count} + {c_count}) = {s}×{s}×{depth}, {s * s * b_count} boxes per image. YOLOv1 on "
            f"PASCAL VOC has the same S = {v1['S']} and B = {v1['B']} with C = {v1['C']}: "
            f"{v1['S']}×{v1['S']}×{5 * v1['B'] + v1['C']}, the same {v1['S'] ** 2 * v1['B']} boxes.")


def _cell_part(inference: Inference, cell: tuple[int, int], holds: bool, what: str):
    """Layers, caption, rows, label and legend entries of one selected cell."""
    grid = _grid(inference)
    s, b_count = grid.grid_size, grid.boxes_per_cell
    r, c = cell
    conf = grid.confidence[r, c]
    best = int(grid.class_probs[r, c].argmax())
    name = inference.detections.name_of(best + 1)
    flat = np.array([r * s + c], np.int64)
    # not a class colour: the cells are tinted by class, and box 2 must not read as "circle most likely"
    box_colors = spare_colors(b_count, np.arange(1, grid.class_probs.shape[-1] + 1))
    layers = [BoxLayer("selected_cell", cell_rects(grid)[flat], solid(ARROW, 1), flat, width=4.0, fill_alpha=60),
              BoxLayer("cell_boxes", grid.boxes[r, c], box_colors, np.arange(b_count, dtype=np.int64),
                       labels=tuple(f"box {b + 1}: {conf[b]:.2f}" for b in range(b_count)), width=3.0)]
    depth = 5 * b_count + grid.class_probs.shape[-1]
    holds_text = f"holds a {what} centre" if holds else "holds no object centre"
    top = int(np.argmax(conf))
    p_best = float(grid.class_probs[r, c, best])
    # the caption names the rows it cites ("box 1 conf", "P(star)"): a slide too short for all 5B + C rows keeps them
    caption = (f"Cell (row {r + 1}, column {c + 1}) {holds_text}: its {b_count} boxes have confidence "
               + ", ".join(f"{v:.2f}" for v in conf) + f"; its best class is {name}, P({name}) = {p_best:.2f}. "
               f"A box's score is confidence × class probability: box {top + 1} conf × P({name}) = "
               f"{conf[top]:.2f} × {p_best:.2f} = {conf[top] * p_best:.2f}, one of the cell's {depth} outputs.")
    rows = [("Selected cell", f"row {r + 1}, column {c + 1}")] + tensor_layout(inference, r, c)
    legend = (("selected cell", ARROW),) + tuple((f"box {b + 1}", tuple(int(v) for v in box_colors[b]))
                                                 for b in range(b_count))
    return layers, caption, rows, f"Cell ({r + 1}, {c + 1})", legend


def _grid_layers(inference: Inference, state: GridViewState, gt: GtPair | None, cells: list[tuple[int, int]]) -> list:
    grid = _grid(inference)
    s = grid.grid_size
    layers: list = []
    class_map = _class_map_layer(inference, state)
    if class_map is not None:
        layers.append(class_map)
    segments = grid_segments(grid)
    layers.append(SegmentLayer("grid", segments, solid(CELL_LINES, len(segments)), width=1.5, alpha=170))
    if cells:
        flat = np.array([r * s + c for r, c in cells], np.int64)
        layers.append(BoxLayer("object_cells", cell_rects(grid)[flat], solid(ARROW, len(flat)), flat, width=2.0,
                               fill_alpha=45))
    centres = _centres(gt[0] if gt is not None else inference.detections.xyxy)
    if len(centres):
        layers.append(SegmentLayer("object_centres", cross_segments(centres, 7.0), solid(ARROW, 2 * len(centres)),
                                   width=2.5))
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    return layers


def grid_frame(inference: Inference, state: GridViewState = GridViewState(),
               gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """The YOLO grid view; gt optional ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    grid = _grid(inference)
    gt = as_gt(gt)
    s, b_count, c_count = grid.grid_size, grid.boxes_per_cell, grid.class_probs.shape[-1]
    cells = object_cells(inference, gt)
    selected, step = _select(inference, state, cells)
    layers = _grid_layers(inference, state, gt, cells)
    depth = 5 * b_count + c_count
    rows = [("Grid", f"{s}×{s} cells of {fmt_num(grid.cell_size[1], 1)}×{fmt_num(grid.cell_size[0], 1)} px"),
            ("Per cell", f"{b_count} boxes × (x, y, w, h, conf) + {c_count} class probabilities = {depth}"),
            ("Output", f"{s}×{s}×{depth} = {s * s * depth} numbers")]
    rows += yolo_v1_rows(s, b_count, c_count, inference.input_size[1])
    rows.append(("Cells with an object", str(len(cells))))
    what = "ground-truth object" if gt is not None else "detection"
    legend = (("grid", CELL_LINES),)
    if gt is not None:
        legend += (("ground truth", GT_COLOR),)
    if state.class_map == "argmax":
        names = inference.detections
        present = np.unique(grid.class_probs.reshape(-1, c_count).argmax(1))
        legend += tuple((f"{names.name_of(c + 1)} most likely", tuple(int(v) for v in class_colors([c + 1])[0]))
                        for c in present.tolist())
    if selected is None:
        caption, label = _overview_caption(s, b_count, c_count, len(cells), what), "Grid"
        legend = (("cell responsible for an object", ARROW),) + legend
    else:
        cell_layers, caption, rows, label, cell_legend = _cell_part(inference, selected, selected in cells, what)
        layers += cell_layers
        legend = cell_legend + legend
    return ViewFrame(layers, caption, rows, step, 1 + len(cells), label, legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    state = GridViewState(point=request.point, class_map=request.controls["class_map"], step=request.step)
    return grid_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "grid", "YOLO grid", _build, step_count=counted(grid_steps), needs="grid",
    cannot_show="it is not a YOLOv1-style grid model",
    controls=(Control("class_map", "Cell colours", "choice", "argmax", CLASS_MAPS,
                      tooltip="argmax: each cell tinted by its best class; probability: a heatmap"),),
    click="point", help="Steps: the S×S overview, then each cell that holds an object. Click: one cell's 5B + C "
                        "numbers.")
