"""Qt painting helpers shared by every item: styles, colours, numpy -> QPainterPath / QImage conversions."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainterPath

from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ImageLayer, Layer, SegmentLayer

__all__ = ["RenderStyle", "NORMAL", "LECTURE", "DENSE_BOXES", "styled", "qcolor", "qimage_from_rgb", "rgb_of_qimage", "qimage_from_heatmap",
           "rects_path", "bounds_of", "color_groups", "LabelFonts", "BOX_LABEL_PX"]

BOX_LABEL_PX = 12.0  # label text height in normal mode (lecture mode doubles it)
PAD_X, PAD_Y = 4.0, 2.0  # room around a label's text

_MAX_COLOR_GROUPS = 24  # more distinct colours than this (an objectness colormap) are drawn as quantiles


@dataclass(frozen=True)
class RenderStyle:
    """line_scale multiplies every pen width, font_scale every text size; min_text_px: no label text is
    smaller (lecture mode: LECTURE, readable from the back of a hall)."""

    line_scale: float = 1.0
    font_scale: float = 1.0
    min_text_px: int = 1


NORMAL = RenderStyle()
#: a box layer with more boxes than this keeps its hairlines in every style
DENSE_BOXES = 2_000
#: Lecture mode and ``render --lecture``: lines and text twice as large, readable from the back of a hall.
LECTURE = RenderStyle(line_scale=2.0, font_scale=2.0, min_text_px=24)


def styled(layer: Layer, style: RenderStyle) -> Layer:
    """The layer with its line widths scaled by ``style`` (the same object when style is NORMAL). Text sizes
    stay: LabelFonts scales every text (labels and TextLayers) once, when the label pass measures it."""
    if style == NORMAL:
        return layer
    if isinstance(layer, BoxLayer) and len(layer.xyxy) > DENSE_BOXES:
        return layer  # thousands of outlines (a level's anchors) widened would cover the photo in one sheet
    if isinstance(layer, (BoxLayer, SegmentLayer, ImageLayer)):
        return replace(layer, width=layer.width * style.line_scale)
    return layer


def qcolor(rgb: Sequence[float] | np.ndarray, alpha: int = 255) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), int(alpha))


def color_groups(colors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(rgb (3,), member indices)] in drawing order. Few colours: one group each (first appearance
    order); many (a colormap): contiguous chunks of the layer's own order, which views sort so that
    the most important boxes come last."""
    n = len(colors)
    packed = colors.astype(np.int64) @ np.array([65536, 256, 1], np.int64)
    keys, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    if len(keys) <= _MAX_COLOR_GROUPS:
        return [(colors[first[k]], np.flatnonzero(inverse == k)) for k in np.argsort(first)]
    bounds = np.linspace(0, n, _MAX_COLOR_GROUPS + 1).astype(np.int64)
    return [(colors[(a + b) // 2], np.arange(a, b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def rects_path(xyxy: np.ndarray, closed: bool = False) -> QPainterPath:
    """One QPainterPath of N rectangles; xyxy (N, 4) float, pixels.

    closed=False: 4 separate edges per box (``connect='pairs'``), the fastest path to stroke;
    closed=True: one closed sub-path per box, for filling.
    """
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(xyxy) == 0:
        return QPainterPath()
    x1, y1, x2, y2 = xyxy.T
    if not closed:
        x = np.stack([x1, x2, x2, x2, x2, x1, x1, x1], axis=1).ravel()
        y = np.stack([y1, y1, y1, y2, y2, y2, y2, y1], axis=1).ravel()
        return pg.arrayToQPath(x, y, connect="pairs")
    x = np.stack([x1, x2, x2, x1, x1], axis=1).ravel()
    y = np.stack([y1, y1, y2, y2, y1], axis=1).ravel()
    connect = np.ones((len(xyxy), 5), np.int32)
    connect[:, -1] = 0  # do not join a rectangle to the next one
    path = pg.arrayToQPath(x, y, connect=connect.ravel())
    path.setFillRule(Qt.FillRule.WindingFill)
    return path


def qimage_from_rgb(image: np.ndarray):
    """(H, W, 3) uint8 RGB -> QImage (a copy, so the array may be freed)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def rgb_of_qimage(qimage: QImage) -> np.ndarray:
    """QImage (RGB32 or RGB888) -> (H, W, 3) uint8 RGB, a copy; by OpenCV, with the GIL released."""
    import cv2

    h, w, stride = qimage.height(), qimage.width(), qimage.bytesPerLine()
    rows = np.frombuffer(qimage.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    if qimage.format() == QImage.Format.Format_RGB888:
        return rows[:, :3 * w].reshape(h, w, 3).copy()
    if qimage.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32) or sys.byteorder != "little":
        return rgb_of_qimage(qimage.convertToFormat(QImage.Format.Format_RGB888))
    return cv2.cvtColor(rows[:, :4 * w].reshape(h, w, 4), cv2.COLOR_BGRA2RGB)  # 0xAARRGGBB is B, G, R, A in memory


def qimage_from_heatmap(layer: HeatmapLayer):
    """The heatmap's (H, W) values through its colormap, as a QImage with the layer's alpha (per cell)."""
    rgb = layer.rgb()
    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, layer.alphas()[:, :, None]], axis=2)
    rgba = np.ascontiguousarray(rgba)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def bounds_of(xs: ArrayLike, ys: ArrayLike) -> QRectF:
    """The rectangle spanning coordinate arrays ``xs`` and ``ys`` (image pixels)."""
    x0, x1, y0, y1 = float(np.min(xs)), float(np.max(xs)), float(np.min(ys)), float(np.max(ys))
    return QRectF(x0, y0, x1 - x0, y1 - y0)


class LabelFonts:
    """Fonts and text sizes per pixel size (a few sizes per frame; measuring is the pass's main cost)."""

    def __init__(self, style: RenderStyle) -> None:
        self.style = style
        self._fonts: dict[float, tuple[QFont, QFontMetricsF]] = {}

    def font(self, size: float) -> tuple[QFont, QFontMetricsF]:
        px = max(self.style.min_text_px, round(size * self.style.font_scale))
        if px not in self._fonts:
            font = QFont()
            font.setPixelSize(px)
            font.setBold(True)
            self._fonts[px] = (font, QFontMetricsF(font))
        return self._fonts[px]

    def measure(self, text: str, size: float) -> tuple[float, float]:
        _, metrics = self.font(size)
        return metrics.horizontalAdvance(text) + 2 * PAD_X, metrics.height() + 2 * PAD_Y
