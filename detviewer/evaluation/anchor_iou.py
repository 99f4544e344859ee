"""Best IoU of every ground-truth box over a model's anchors, without forming the (boxes x anchors) matrix.

An FPN Faster R-CNN has 217,413 anchors at 640x480 and COCO's val set 36,000 boxes: 7.8e9 IoUs. But a
generator's anchors are a product grid: within one level, the anchors of one shape ``a`` are the same box
shifted to every cell, so the x-interval of anchor (y, x, a) depends only on (x, a) and its y-interval only on
(y, a) (torchvision's AnchorGenerator adds ``(shift_x, shift_y)`` to base anchors; DefaultBoxGenerator
places one (w, h) per ratio at every cell centre). For boxes of fixed sizes the intersection is
``Ix(column) * Iy(row)``, each a trapezoid that falls with the distance between centres, and the union is
``area_a + area_g - I``, so IoU rises with I: the best anchor of a shape sits in the column and the row
whose centres are nearest to the box's centre. That is two binary searches per shape and box instead
of H x W IoUs, and the same numbers (tested against the brute force).

:func:`best_anchor_iou` checks that structure on the anchors it is given (exact coordinates, per level and
shape) and falls back to :func:`brute_force_best_iou`, in blocks, for a level that lacks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from detviewer.core.types import AnchorSet

__all__ = ["best_anchor_iou", "brute_force_best_iou", "grid_axes", "GridAxes", "IOU_BLOCK"]

#: Boxes x anchors evaluated at once by the brute force (bounds its temporaries to ~100 MB).
IOU_BLOCK = 1 << 22
#: Ground-truth boxes per progress step of the grid path.
GT_BLOCK = 1 << 14


class GridAxes:
    """One level's anchors as a product grid: per shape a (A,), column intervals x1, x2 (A, W) and row
    intervals y1, y2 (A, H), float64, input pixels; anchor (y, x, a) = [x1[a, x], y1[a, y], x2[a, x], y2[a, y]]."""

    def __init__(self, x1: np.ndarray, x2: np.ndarray, y1: np.ndarray, y2: np.ndarray) -> None:
        self.x1, self.x2, self.y1, self.y2 = x1, x2, y1, y2
        self.cx, self.cy = (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, A)."""
        return self.y1.shape[1], self.x1.shape[1], self.x1.shape[0]


def grid_axes(anchors: AnchorSet) -> GridAxes | None:
    """The level's anchors as a product grid with one size per shape, or None when they are not one."""
    h, w = anchors.feature_size
    a = anchors.anchors_per_location
    boxes = anchors.boxes.astype(np.float64).reshape(h, w, a, 4)
    x1, x2 = boxes[0, :, :, 0].T, boxes[0, :, :, 2].T  # (A, W)
    y1, y2 = boxes[:, 0, :, 1].T, boxes[:, 0, :, 3].T  # (A, H)
    product = (np.array_equal(boxes[..., 0], np.broadcast_to(x1.T[None], (h, w, a)))
               and np.array_equal(boxes[..., 2], np.broadcast_to(x2.T[None], (h, w, a)))
               and np.array_equal(boxes[..., 1], np.broadcast_to(y1.T[:, None], (h, w, a)))
               and np.array_equal(boxes[..., 3], np.broadcast_to(y2.T[:, None], (h, w, a))))
    if not product:
        return None
    widths, heights = x2 - x1, y2 - y1
    # one size per shape (up to float32 rounding of the shifted coordinates), and centres in order
    for sizes, centres in ((widths, x1 + x2), (heights, y1 + y2)):
        if (np.ptp(sizes, axis=1) > 1e-3 * np.maximum(np.abs(sizes).max(axis=1), 1.0)).any() \
                or (np.diff(centres, axis=1) < 0).any():
            return None
    return GridAxes(x1, x2, y1, y2)


def _nearest_overlap(lo: np.ndarray, hi: np.ndarray, centres: np.ndarray, g_lo: np.ndarray, g_hi: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per box, the overlap with the interval (of one shape's columns or rows) whose centre is nearest to the
    box's, checked against both neighbours of the binary search: (overlap (N,), interval index (N,))."""
    n = len(centres)
    right = np.clip(np.searchsorted(centres, (g_lo + g_hi) / 2), 0, n - 1)
    left = np.maximum(right - 1, 0)
    over_r = np.maximum(np.minimum(hi[right], g_hi) - np.maximum(lo[right], g_lo), 0.0)
    over_l = np.maximum(np.minimum(hi[left], g_hi) - np.maximum(lo[left], g_lo), 0.0)
    take_left = over_l > over_r
    return np.where(take_left, over_l, over_r), np.where(take_left, left, right)


def _grid_best(gt: np.ndarray, axes: GridAxes) -> tuple[np.ndarray, np.ndarray]:
    """(N,) best IoU over one product-grid level and (N,) the flat index (y, x, a order) of that anchor."""
    h, w, a_count = axes.shape
    g_area = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    best = np.full(len(gt), -1.0)
    arg = np.zeros(len(gt), np.int64)
    for a in range(a_count):
        ix, col = _nearest_overlap(axes.x1[a], axes.x2[a], axes.cx[a], gt[:, 0], gt[:, 2])
        iy, row = _nearest_overlap(axes.y1[a], axes.y2[a], axes.cy[a], gt[:, 1], gt[:, 3])
        inter = ix * iy
        a_area = (axes.x2[a, col] - axes.x1[a, col]) * (axes.y2[a, row] - axes.y1[a, row])
        iou = inter / (a_area + g_area - inter)
        better = iou > best
        best[better] = iou[better]
        arg[better] = (row[better] * w + col[better]) * a_count + a
    return best, arg


def brute_force_best_iou(gt_xyxy: np.ndarray, anchors_xyxy: np.ndarray, block: int = IOU_BLOCK
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(N,) best IoU of each box over all anchors (K, 4) and (N,) the first anchor reaching it; float64, in
    blocks of boxes so that no more than ``block`` IoUs exist at once. 0 / -1 without anchors."""
    gt = np.asarray(gt_xyxy, np.float64).reshape(-1, 4)
    anchors = np.asarray(anchors_xyxy, np.float64).reshape(-1, 4)
    best, arg = np.zeros(len(gt)), np.full(len(gt), -1, np.int64)
    if not len(anchors):
        return best, arg
    a_area = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    step = max(1, block // len(anchors))
    for lo in range(0, len(gt), step):
        g = gt[lo:lo + step, None, :]
        iw = np.clip(np.minimum(g[..., 2], anchors[:, 2]) - np.maximum(g[..., 0], anchors[:, 0]), 0, None)
        ih = np.clip(np.minimum(g[..., 3], anchors[:, 3]) - np.maximum(g[..., 1], anchors[:, 1]), 0, None)
        inter = iw * ih
        g_area = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
        iou = inter / (g_area + a_area - inter)
        arg[lo:lo + step] = iou.argmax(axis=1)
        best[lo:lo + step] = iou[np.arange(len(iou)), arg[lo:lo + step]]
    return best, arg


def best_anchor_iou(gt_xyxy: np.ndarray, anchor_sets: Sequence[AnchorSet],
                    progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best IoU of every box over every level's anchors (all in the same pixels, the model's input).

    gt_xyxy (N, 4) boxes of positive size; anchor_sets: the generator's levels (``ops.anchors.run_generator``).
    Returns best_iou (N,) float64, best_level (N,) int64 and best_anchor (N,) int64 (index into that level's
    boxes). progress(done, N) after each block of boxes; should_stop() is polled between blocks and ends the
    run early (the boxes not reached keep IoU -1, level -1).
    """
    gt = np.asarray(gt_xyxy, np.float64).reshape(-1, 4)
    n = len(gt)
    best, level, anchor = np.full(n, -1.0), np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    axes = [grid_axes(s) for s in anchor_sets]
    for lo in range(0, n, GT_BLOCK):
        if should_stop is not None and should_stop():
            break
        hi = min(lo + GT_BLOCK, n)
        for index, (anchors, grid) in enumerate(zip(anchor_sets, axes)):
            if grid is not None:
                iou, arg = _grid_best(gt[lo:hi], grid)
            else:
                iou, arg = brute_force_best_iou(gt[lo:hi], anchors.boxes)
            better = iou > best[lo:hi]
            best[lo:hi][better], level[lo:hi][better], anchor[lo:hi][better] = iou[better], index, arg[better]
        if progress is not None:
            progress(hi, n)
    return best, level, anchor
