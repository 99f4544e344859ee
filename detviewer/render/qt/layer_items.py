"""Qt items that each draw one layer of a frame (the labels of all layers are drawn by ``labels.LabelsItem``).

On ``layer_item.LayerItem`` (the layer and its extent): ``BoxSetItem`` strokes (and optionally
fills) N rectangles, one cached path per colour; ``SegmentSetItem`` line segments with arrow heads at a
constant screen size; ``HeatmapItem`` a small grid of values; ``ImageSetItem`` warped crops. Huge box
layers go to ``many_boxes.ManyBoxesItem``. ``item_for(layer)`` picks the item; ``paint_layer`` paints one
layer in full with the painter's transform (exports).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ImageLayer, Layer, SegmentLayer, TextLayer
from detviewer.render.qt.layer_item import LayerItem
from detviewer.render.qt.many_boxes import FRAME_BUDGET_MS, ManyBoxesItem
from detviewer.render.qt.style import (
    NORMAL,
    RenderStyle,
    bounds_of,
    color_groups,
    qcolor,
    qimage_from_heatmap,
    qimage_from_rgb,
    rects_path,
    styled,
)

__all__ = ["BoxSetItem", "SegmentSetItem", "HeatmapItem", "ImageSetItem", "item_for", "paint_layer",
           "MANY_BOXES"]

#: BoxLayers longer than this go to ManyBoxesItem on the canvas (2,550 anchors of 256 px cost ~25 ms).
MANY_BOXES = 1000
_ANTIALIAS_LIMIT = 1000  # antialiasing thousands of boxes costs more than it shows
# Qt's raster engine strokes translucent cosmetic lines ~10x slower than opaque ones
# (10k boxes: ~450 ms vs ~35 ms here), so big layers are drawn opaque.
_TRANSLUCENT_LIMIT = 1000
# PySide holds the GIL through a drawPath call, and a figure is drawn by the task runner while the window's
# thread waits for the GIL: a dashed outline at figure size costs ~0.4 ms a box (24 boxes held it 10 ms), so a
# colour's boxes are drawn a few at a time (the GIL can change hands between calls).
_BOXES_PER_PATH = 128
_DASHED_BOXES_PER_PATH = 8


class BoxSetItem(LayerItem):
    """Draws one BoxLayer: per distinct colour, one cached path and one ``drawPath`` call."""

    def __init__(self) -> None:
        super().__init__()
        self._groups: list | None = None

    def _extent_of(self, layer: BoxLayer) -> QRectF:
        return bounds_of(layer.xyxy[:, [0, 2]], layer.xyxy[:, [1, 3]])

    def _layer_changed(self) -> None:
        self._groups = None

    def _build(self) -> list[tuple[QPen, QBrush, list[QPainterPath], list[QPainterPath]]]:
        """Per colour: (pen, fill brush, stroke paths, fill paths); a colour's boxes are split over several paths
        (_BOXES_PER_PATH each, fewer when dashed)."""
        layer = self._layer
        groups = []
        alpha = layer.alpha if len(layer) <= _TRANSLUCENT_LIMIT else 255
        dashed = layer.dashed and len(layer) <= _TRANSLUCENT_LIMIT
        per_path = _DASHED_BOXES_PER_PATH if dashed else _BOXES_PER_PATH
        for rgb, members in color_groups(layer.colors):
            pen = QPen(qcolor(rgb, alpha))
            pen.setWidthF(layer.width)
            pen.setCosmetic(True)  # width in screen pixels whatever the zoom
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            chunks = [layer.xyxy[members[i:i + per_path]] for i in range(0, len(members), per_path)]
            fills = [rects_path(boxes, closed=True) for boxes in chunks] if layer.fill_alpha else []
            groups.append((pen, QBrush(qcolor(rgb, layer.fill_alpha)), [rects_path(boxes) for boxes in chunks], fills))
        return groups

    def paint(self, painter: QPainter, *args: object) -> None:
        if self._layer is None:
            return
        if self._groups is None:
            self._groups = self._build()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(self._layer) <= _ANTIALIAS_LIMIT)
        for pen, brush, strokes, fills in self._groups:
            for fill in fills:
                painter.fillPath(fill, brush)
            painter.setPen(pen)
            for stroke in strokes:
                painter.drawPath(stroke)


class SegmentSetItem(LayerItem):
    """Draws a SegmentLayer: per colour one cached ``connect='pairs'`` path; arrow heads (screen size)."""

    def __init__(self) -> None:
        super().__init__()
        self._groups: list | None = None

    def _extent_of(self, layer: SegmentLayer) -> QRectF:
        return bounds_of(layer.segments[:, [0, 2]], layer.segments[:, [1, 3]])

    def _layer_changed(self) -> None:
        self._groups = None

    def _margin(self) -> tuple[float, float]:
        m = self._layer.width + 20.0  # arrow heads
        return m, m

    def _build(self) -> list:
        layer = self._layer
        groups = []
        for rgb, members in color_groups(layer.colors):
            pen = QPen(qcolor(rgb, layer.alpha))
            pen.setWidthF(layer.width)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            if layer.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            s = layer.segments[members].astype(np.float64)
            path = pg.arrayToQPath(s[:, [0, 2]].ravel(), s[:, [1, 3]].ravel(), connect="pairs")
            groups.append((pen, path, s, rgb))
        return groups

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem | None = None,
              widget: QWidget | None = None) -> None:
        if self._layer is None:
            return
        if self._groups is None:
            self._groups = self._build()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(self._layer) <= 2000)
        for pen, path, _, _ in self._groups:
            painter.setPen(pen)
            painter.drawPath(path)
        if self._layer.arrow_heads:
            self._paint_heads(painter)

    def _paint_heads(self, painter: QPainter) -> None:
        transform = painter.transform()
        length = 6.0 + 3.0 * self._layer.width  # screen pixels
        painter.save()
        painter.resetTransform()
        painter.setPen(Qt.PenStyle.NoPen)
        for _, _, segments, rgb in self._groups:
            painter.setBrush(QBrush(qcolor(rgb, self._layer.alpha)))
            for x1, y1, x2, y2 in segments:
                a = transform.map(QPointF(x1, y1))
                b = transform.map(QPointF(x2, y2))
                dx, dy = b.x() - a.x(), b.y() - a.y()
                norm = math.hypot(dx, dy)
                if norm < 1e-6:
                    continue
                ux, uy = dx / norm, dy / norm
                back = QPointF(b.x() - ux * length, b.y() - uy * length)
                side = QPointF(-uy * length * 0.45, ux * length * 0.45)
                painter.drawPolygon(QPolygonF([b, back + side, back - side]))
        painter.restore()


class HeatmapItem(LayerItem):
    """Draws a HeatmapLayer: its cells as sharp blocks (no smoothing) stretched over its rect."""

    def __init__(self) -> None:
        super().__init__()
        self._image = None

    def _extent_of(self, layer: HeatmapLayer) -> QRectF:
        return bounds_of(layer.rect[[0, 2]], layer.rect[[1, 3]])

    def _layer_changed(self) -> None:
        self._image = None if self._layer is None else qimage_from_heatmap(self._layer)

    def _margin(self) -> tuple[float, float]:
        return 0.0, 0.0

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem | None = None,
              widget: QWidget | None = None) -> None:
        if self._image is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(self._bounds, self._image)
        painter.restore()


class ImageSetItem(LayerItem):
    """Draws an ImageLayer: each picture stretched (smoothly) over its rect, with a cosmetic border."""

    def __init__(self) -> None:
        super().__init__()
        self._images: list = []

    def _extent_of(self, layer: ImageLayer) -> QRectF:
        return bounds_of(layer.rects[:, [0, 2]], layer.rects[:, [1, 3]])

    def _layer_changed(self) -> None:
        self._images = [] if self._layer is None else [qimage_from_rgb(im) for im in self._layer.images]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem | None = None,
              widget: QWidget | None = None) -> None:
        layer = self._layer
        if layer is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        for (x1, y1, x2, y2), image, rgb in zip(layer.rects.tolist(), self._images, layer.colors):
            rect = QRectF(x1, y1, x2 - x1, y2 - y1)
            painter.drawImage(rect, image)
            if layer.width > 0:
                pen = QPen(qcolor(rgb))
                pen.setWidthF(layer.width)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
        painter.restore()


def item_for(layer: Layer, level_of_detail: bool = False) -> LayerItem:
    """A new item that can draw ``layer`` (not yet given the layer); level_of_detail: a huge box layer draws a
    sample within a per-paint budget (the canvas), else everything (exports)."""
    if isinstance(layer, SegmentLayer):
        return SegmentSetItem()
    if isinstance(layer, HeatmapLayer):
        return HeatmapItem()
    if isinstance(layer, ImageLayer):
        return ImageSetItem()
    if isinstance(layer, BoxLayer):
        if len(layer) > MANY_BOXES:
            return ManyBoxesItem(FRAME_BUDGET_MS if level_of_detail else None)
        return BoxSetItem()
    raise TypeError(f"cannot draw a {type(layer).__name__}")


def paint_layer(painter: QPainter, layer: Layer, style: RenderStyle = NORMAL) -> None:
    """Paint one layer in full (no level of detail) with the painter's current transform; labels are separate."""
    if isinstance(layer, TextLayer):
        return  # texts are labels: the label pass places them
    item = item_for(styled(layer, style))
    item.set_layer(styled(layer, style))
    item.paint(painter)
