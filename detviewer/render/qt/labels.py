"""Draws every label of a frame after the one placement pass (render.model.labels): on the canvas as one item
above all layers, and in exported figures through ``paint_labels``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QTransform

from detviewer.render.model.labels import (
    PANEL_FILL_ALPHA,
    Placement,
    covering_panels,
    labels_of_layers,
    place_labels,
)
from detviewer.render.model.primitives import BoxLayer
from detviewer.render.qt.style import BOX_LABEL_PX, NORMAL, LabelFonts, RenderStyle, qcolor

__all__ = ["LabelsItem", "paint_labels", "place_layer_labels"]

_DARK = QColor(0, 0, 0, 185)


def _mapper(transform: QTransform):
    def to_screen(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        return np.stack([transform.m11() * x + transform.m21() * y + transform.dx(),
                         transform.m12() * x + transform.m22() * y + transform.dy()], axis=1)
    return to_screen


def paint_labels(painter: QPainter, layers: Sequence, style: RenderStyle = NORMAL, fonts: LabelFonts | None = None,
                 bounds: tuple[float, float] | None = None, obstacles: Sequence[tuple[float, float, float, float]] = (),
                 origin: tuple[float, float] = (0.0, 0.0)
                 ) -> Placement:
    """Place and draw the labels of ``layers`` with the painter's transform (image -> screen); returns the placement.

    bounds (w, h): the screen area labels must stay in (default: the painter's device), whose top-left corner is
    at ``origin`` on the device (a figure's image under its title band); obstacles: (x, y, w, h) rects of that
    area to keep clear (the legend). The placement is in that area's pixels.
    """
    fonts = fonts or LabelFonts(style)
    if bounds is None:
        device = painter.device()
        bounds = (float(device.width()), float(device.height()))
    transform = painter.transform() * QTransform.fromTranslate(-origin[0], -origin[1])
    labels, placement = _place(layers, transform, fonts, bounds, obstacles)
    painter.save()
    painter.resetTransform()
    painter.translate(*origin)
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


def _place(layers: Sequence, transform: QTransform, fonts: LabelFonts, bounds: tuple[float, float],
           obstacles: Sequence[tuple[float, float, float, float]] = ()) -> tuple[list, Placement]:
    to_screen = _mapper(transform)
    labels = labels_of_layers(layers, to_screen, box_label_size=BOX_LABEL_PX)
    return labels, place_labels(labels, fonts.measure, bounds, obstacles, covering_panels(layers, to_screen))


def place_layer_labels(layers: Sequence, transform: QTransform, fonts: LabelFonts, bounds: tuple[float, float],
                       obstacles: Sequence[tuple[float, float, float, float]] = ()) -> Placement:
    """The placement ``paint_labels`` would draw for this transform (image -> screen) and screen size."""
    return _place(layers, transform, fonts, bounds, obstacles)[1]


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
        self.legend: tuple = ()  # the view's (text, rgb) entries, in a free corner; labels keep clear of it
        self._box_layers: list = []  # what the legend should hide as little of as it can
        # (x, y, w, h) screen pixels of a note widget over the canvas, kept clear too
        self._note_rect: tuple[float, float, float, float] | None = None

    def set_layers(self, layers: Sequence, style: RenderStyle,
                   legend: Sequence[tuple[str, tuple[int, int, int]]] = ()) -> None:
        self.legend = tuple(legend)
        self._layers = [layer for layer in layers if getattr(layer, "labels", None) or hasattr(layer, "texts")
                        or getattr(layer, "fill_alpha", 0) >= PANEL_FILL_ALPHA]  # panels: labels under them move
        self._box_layers = [layer for layer in layers if isinstance(layer, BoxLayer)]
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
        if view is None or not (self._layers or self.legend):
            return QRectF()
        return view.viewRect()  # labels stay inside what is shown, wherever their boxes are

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def legend_box(self, transform: QTransform, bounds: tuple[float, float]):
        """(x, y, w, h) screen pixels of the legend for this transform (image -> screen) and screen size."""
        from detviewer.render.qt.legend import legend_rect, screen_boxes

        if not self.legend:
            return None
        return legend_rect(self.legend, self._fonts, bounds, screen_boxes(self._box_layers, _mapper(transform)))

    def set_note_rect(self, rect: tuple[float, float, float, float] | None) -> None:
        """A note shown over the canvas at rect (x, y, w, h) screen pixels, or None: labels keep clear of it."""
        if rect != self._note_rect:
            self._note_rect = rect
            self.update()

    def obstacles(self, transform: QTransform, bounds: tuple[float, float]) -> list:
        """The screen rects labels keep clear of: the legend and the canvas's note."""
        return self._clear_of(self.legend_box(transform, bounds))

    def _clear_of(self, legend_box: tuple[float, float, float, float] | None) -> list:
        return [r for r in (legend_box, self._note_rect) if r is not None]

    def paint(self, painter: QPainter, *args: object) -> None:
        from detviewer.render.qt.legend import paint_legend

        device = painter.device()
        bounds = (float(device.width()), float(device.height()))
        box = self.legend_box(painter.transform(), bounds)
        self.placement = paint_labels(painter, self._layers, self._fonts.style, self._fonts, bounds,
                                      obstacles=self._clear_of(box))
        painter.save()
        painter.resetTransform()
        paint_legend(painter, self.legend, self._fonts, box)
        painter.restore()
