"""The legend of a view's colours (``ViewFrame.legend``): a small panel in the corner of the canvas or figure
that hides the fewest box outlines, drawn by the same function in both."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter

from detviewer.render.model.primitives import BoxLayer
from detviewer.render.qt.style import BOX_LABEL_PX, LabelFonts, qcolor

__all__ = ["legend_rect", "paint_legend", "screen_boxes", "MAX_LEGEND_BOXES"]

_MARGIN = 8.0


def _sizes(entries: Sequence[tuple[str, tuple[int, int, int]]], fonts: LabelFonts) -> tuple[float, float, float]:
    """(row height, swatch side, panel width)."""
    _, metrics = fonts.font(BOX_LABEL_PX)
    row = metrics.height() + 4
    swatch = metrics.height() * 0.8
    width = max(metrics.horizontalAdvance(text) for text, _ in entries) + swatch + 3 * _MARGIN
    return row, swatch, width


#: At most this many boxes decide the legend's corner: it is chosen on every paint, and over 250k anchors
#: the whole set took 33 ms; an even sample of each layer tells the corners apart as well.
MAX_LEGEND_BOXES = 4000


def screen_boxes(layers: Sequence, to_screen: Callable[[np.ndarray], np.ndarray],
                 limit: int = MAX_LEGEND_BOXES) -> np.ndarray:
    """(N, 4) xyxy screen pixels of the boxes of the BoxLayers in ``layers`` (every k-th of each layer when they
    hold more than ``limit`` together); to_screen maps (K, 2) image points to screen points (an axis-aligned
    transform: the canvas's or a figure's)."""
    parts = [layer.xyxy for layer in layers if isinstance(layer, BoxLayer) and len(layer)]
    if not parts:
        return np.zeros((0, 4), np.float64)
    stride = -(-sum(len(p) for p in parts) // limit)  # ceil: 1 up to the limit
    xyxy = np.concatenate([p[::stride] for p in parts]).astype(np.float64)
    a, b = to_screen(xyxy[:, :2]), to_screen(xyxy[:, 2:])
    return np.concatenate([np.minimum(a, b), np.maximum(a, b)], axis=1)


def _hidden_outlines(rect: tuple[float, float, float, float], boxes: np.ndarray) -> int:
    """Boxes whose outline passes under the rect (a box around the whole panel keeps its outline visible)."""
    x, y, w, h = rect
    x1, y1, x2, y2 = boxes.T
    overlaps = (x1 < x + w) & (x2 > x) & (y1 < y + h) & (y2 > y)
    around = (x1 <= x) & (y1 <= y) & (x2 >= x + w) & (y2 >= y + h)
    return int((overlaps & ~around).sum())


def legend_rect(entries: Sequence[tuple[str, tuple[int, int, int]]], fonts: LabelFonts, bounds: tuple[float, float],
                boxes: np.ndarray | None = None) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) of the legend panel in screen pixels inside ``bounds`` (w, h); None without entries.

    boxes: (N, 4) xyxy screen pixels of what is drawn (``screen_boxes``): the panel goes in the corner hiding
    the fewest of their outlines, bottom left on a tie and without boxes.
    """
    if not entries:
        return None
    row, _, width = _sizes(entries, fonts)
    height = row * len(entries) + _MARGIN
    left, right = _MARGIN, max(_MARGIN, bounds[0] - width - _MARGIN)
    top, bottom = _MARGIN, max(0.0, bounds[1] - height - _MARGIN)
    corners = [(left, bottom), (right, bottom), (left, top), (right, top)]
    if boxes is None or not len(boxes):
        return left, bottom, width, height
    costs = [_hidden_outlines((x, y, width, height), boxes) for x, y in corners]
    x, y = corners[int(np.argmin(costs))]  # argmin keeps the first (bottom left) on a tie
    return x, y, width, height


def paint_legend(painter: QPainter, entries: Sequence[tuple[str, tuple[int, int, int]]], fonts: LabelFonts,
                 rect: tuple[float, float, float, float] | None) -> None:
    """entries: (text, (r, g, b)); rect: (x, y, w, h) from ``legend_rect``, in the painter's current coordinates
    (screen pixels: the caller removes any image scale first)."""
    if rect is None or not entries:
        return
    x, y, w, h = rect
    row, swatch, _ = _sizes(entries, fonts)
    font, _ = fonts.font(BOX_LABEL_PX)
    painter.save()
    painter.setFont(font)
    painter.fillRect(QRectF(x, y, w, h), QColor(0, 0, 0, 200))
    for k, (text, rgb) in enumerate(entries):
        top = y + _MARGIN / 2 + k * row
        square = QRectF(x + _MARGIN, top + (row - swatch) / 2, swatch, swatch)
        painter.fillRect(square, qcolor(rgb))
        painter.setPen(QColor(150, 150, 150))  # a black swatch ("low activation") on the dark panel
        painter.drawRect(square)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(QRectF(x + 2 * _MARGIN + swatch, top, w, row),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    painter.restore()
