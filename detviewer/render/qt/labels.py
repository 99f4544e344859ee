"""Draws every label of a frame after the one placement pass (render.model.labels): on the canvas as one item
above all layers, and in exported figures through ``paint_labels``."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QTransform

from detviewer.render.model.labels import Placement, labels_of_layers, place_labels
from detviewer.render.qt.style import NORMAL, RenderStyle, qcolor

__all__ = ["LabelsItem", "paint_labels", "place_layer_labels", "BOX_LABEL_PX", "LabelFonts"]

BOX_LABEL_PX = 12.0  # box label text height in normal mode (lecture mode doubles it)
_PAD_X, _PAD_Y = 4.0, 2.0
_DARK = QColor(0, 0, 0, 185)


class LabelFonts:
    """Fonts and text sizes per pixel size (a few sizes per frame; measuring is the pass's main cost)."""

    def __init__(self, style: RenderStyle) -> None:
        self.style = style
        self._fonts: dict[float, tuple[QFont, QFontMetricsF]] = {}

    def font(self, size: float) -> tuple[QFont, QFontMetricsF]:
        px = max(1, round(size * self.style.font_scale))
        if px not in self._fonts:
            font = QFont()
            font.setPixelSize(px)
            font.setBold(True)
            self._fonts[px] = (font, QFontMetricsF(font))
        return self._fonts[px]

    def measure(self, text: str, size: float) -> tuple[float, float]:
        _, metrics = self.font(size)
        return metrics.horizontalAdvance(text) + 2 * _PAD_X, metrics.height() + 2 * _PAD_Y


def _mapper(transform: QTransform):
    def to_screen(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        return np.stack([transform.m11() * x + transform.m21() * y + transform.dx(),
                         transform.m12() * x + transform.m22() * y + transform.dy()], axis=1)
    return to_screen


def paint_labels(painter: QPainter, layers, style: RenderStyle = NORMAL, fonts: LabelFonts | None = None,
                 bounds: tuple[float, float] | None = None) -> Placement:
    """Place and draw the labels of ``layers`` with the painter's transform (image -> screen); returns the placement.

    bounds (w, h): the screen area labels must stay in (default: the painter's device).
    """
    fonts = fonts or LabelFonts(style)
    if bounds is None:
        device = painter.device()
        bounds = (float(device.width()), float(device.height()))
    labels, placement = _place(layers, painter.transform(), fonts, bounds)
    painter.save()
    painter.resetTransform()
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    for (x, y, w, h), text, i in zip(placement.rects, placement.texts, placement.index):
        label = labels[int(i)]
        font, _ = fonts.font(label.size)
        painter.setFont(font)
        rect = QRectF(x, y, w, h)
        if label.kind == "box":
            painter.fillRect(rect, qcolor(label.color, 225))
            light = 0.299 * label.color[0] + 0.587 * label.color[1] + 0.114 * label.color[2] > 140
            painter.setPen(QColor(0, 0, 0) if light else QColor(255, 255, 255))
        else:
            painter.fillRect(rect, _DARK)
            painter.setPen(qcolor(label.color))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    if placement.hidden:
        _paint_hidden_note(painter, fonts, placement.hidden, bounds)
    painter.restore()
    return placement


def _place(layers, transform: QTransform, fonts: LabelFonts, bounds):
    labels = labels_of_layers(layers, _mapper(transform), box_label_size=BOX_LABEL_PX)
    return labels, place_labels(labels, fonts.measure, bounds)


def place_layer_labels(layers, transform: QTransform, fonts: LabelFonts, bounds: tuple[float, float]) -> Placement:
    """The placement ``paint_labels`` would draw for this transform (image -> screen) and screen size."""
    return _place(layers, transform, fonts, bounds)[1]


def _paint_hidden_note(painter: QPainter, fonts: LabelFonts, hidden: int, bounds: tuple[float, float]) -> None:
    text = f"+{hidden} label{'s' if hidden > 1 else ''} hidden (no room)"
    font, _ = fonts.font(BOX_LABEL_PX * 0.9)
    w, h = fonts.measure(text, BOX_LABEL_PX * 0.9)
    rect = QRectF(bounds[0] - w - 4, 4, w, h)
    painter.setFont(font)
    painter.fillRect(rect, _DARK)
    painter.setPen(QColor(235, 235, 235))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class LabelsItem(pg.GraphicsObject):
    """All the canvas's labels, placed together in screen pixels each time the view is painted.

    ``placement`` is the pass's last answer (tests and the lecture check read it).
    """

    def __init__(self) -> None:
        super().__init__()
        self._layers: list = []
        self._fonts = LabelFonts(NORMAL)
        self.placement: Placement | None = None

    def set_layers(self, layers, style: RenderStyle) -> None:
        self._layers = [layer for layer in layers if getattr(layer, "labels", None) or hasattr(layer, "texts")]
        if style != self._fonts.style:
            self._fonts = LabelFonts(style)
        self.placement = None
        self.prepareGeometryChange()
        self.update()

    @property
    def texts(self) -> tuple[str, ...]:
        return self.placement.texts if self.placement is not None else ()

    def boundingRect(self) -> QRectF:
        view = self.getViewBox()
        if view is None or not self._layers:
            return QRectF()
        return view.viewRect()  # labels stay inside what is shown, wherever their boxes are

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, *args) -> None:
        if self._layers:
            self.placement = paint_labels(painter, self._layers, self._fonts.style, self._fonts)
