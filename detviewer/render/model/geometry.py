"""Feature-map cell layout read from a level's own anchors, and flat anchor indexing (Qt-free).

Every anchor of a cell shares the cell's centre, so the centres of the generator's boxes give
the grid exactly as the model tiles it: AnchorGenerator centres at ``index * stride``,
DefaultBoxGenerator at ``(index + 0.5) * step`` (SSD300's steps 8, 16, 32, 64, 100, 300 differ
from 300 / grid size). A cell is the step-sized window around its centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detviewer.core.types import AnchorSet, Inference
from detviewer.render.model.primitives import grid_lines

__all__ = ["LevelGrid", "level_grid", "level_offsets", "split_index", "all_anchor_boxes"]


@dataclass(frozen=True)
class LevelGrid:
    """Cells of one feature level in original-image pixels.

    size (H, W) cells; origin (x, y) centre of cell (0, 0); step (x, y) distance between centres.
    """

    size: tuple[int, int]
    origin: tuple[float, float]
    step: tuple[float, float]

    def centre(self, y: int, x: int) -> tuple[float, float]:
        """(x, y) pixel centre of cell (y, x)."""
        return self.origin[0] + x * self.step[0], self.origin[1] + y * self.step[1]

    def cell_rect(self, y: int, x: int) -> np.ndarray:
        """(4,) float32 xyxy window of cell (y, x)."""
        cx, cy = self.centre(y, x)
        hx, hy = self.step[0] / 2, self.step[1] / 2
        return np.array([cx - hx, cy - hy, cx + hx, cy + hy], np.float32)

    def cell_at(self, point_xy: Sequence[float] | np.ndarray) -> tuple[int, int] | None:
        """The cell (y, x) whose centre is nearest to an original-image point; None outside the map."""
        cx = math.floor((float(point_xy[0]) - self.origin[0]) / self.step[0] + 0.5)
        cy = math.floor((float(point_xy[1]) - self.origin[1]) / self.step[1] + 0.5)
        if 0 <= cy < self.size[0] and 0 <= cx < self.size[1]:
            return int(cy), int(cx)
        return None

    def segments(self, image_size: tuple[int, int]) -> np.ndarray:
        """Cell borders inside the image (H, W) as segments (N, 4) x1, y1, x2, y2."""
        height, width = image_size
        rows, cols = self.size
        x_left = self.origin[0] - self.step[0] / 2
        y_top = self.origin[1] - self.step[1] / 2
        xs = x_left + np.arange(cols + 1) * self.step[0]
        ys = y_top + np.arange(rows + 1) * self.step[1]
        eps = 1e-3 * max(self.step)
        xs = xs[(xs >= -eps) & (xs <= width + eps)]
        ys = ys[(ys >= -eps) & (ys <= height + eps)]
        y0, y1 = max(0.0, y_top), min(float(height), y_top + rows * self.step[1])
        x0, x1 = max(0.0, x_left), min(float(width), x_left + cols * self.step[0])
        return grid_lines(xs, ys, (x0, x1), (y0, y1))


def _centre(box: np.ndarray) -> tuple[float, float]:
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2


def level_grid(anchors: AnchorSet, scale: tuple[float, float] = (1.0, 1.0)) -> LevelGrid:
    """The cell layout of ``anchors`` (original pixels); scale (sy, sx) = input / original pixels.

    Steps come from the centres of the first and last cells; a map one cell wide falls back to
    the level's stride.
    """
    h, w = anchors.feature_size
    a = anchors.anchors_per_location
    boxes = anchors.boxes
    ox, oy = _centre(boxes[0])
    if w > 1:
        step_x = (_centre(boxes[(w - 1) * a])[0] - ox) / (w - 1)
    else:
        step_x = anchors.stride[1] / scale[1]
    if h > 1:
        step_y = (_centre(boxes[(h - 1) * w * a])[1] - oy) / (h - 1)
    else:
        step_y = anchors.stride[0] / scale[0]
    return LevelGrid((int(h), int(w)), (ox, oy), (float(step_x), float(step_y)))


def level_offsets(inference: Inference) -> np.ndarray:
    """(L + 1,) int64: flat index of each level's first anchor, then the total."""
    return np.concatenate([[0], np.cumsum([len(a) for a in inference.anchors])]).astype(np.int64)


def split_index(inference: Inference, flat: int) -> tuple[int, int]:
    """(level, index within the level) of a flat anchor index; IndexError when out of range."""
    offsets = level_offsets(inference)
    if not 0 <= flat < offsets[-1]:
        raise IndexError(f"anchor {flat} does not exist ({offsets[-1]} anchors)")
    level = int(np.searchsorted(offsets, flat, side="right") - 1)
    return level, int(flat - offsets[level])


def all_anchor_boxes(inference: Inference) -> np.ndarray:
    """(K, 4) float32 xyxy original pixels: every level's anchors concatenated."""
    if not inference.anchors:
        return np.zeros((0, 4), np.float32)
    return np.concatenate([a.boxes for a in inference.anchors])
