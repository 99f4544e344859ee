"""pyqtgraph items that draw a whole box set at once (one path per colour, cached until set_layer).

``LayerItem`` is the base of every item drawing one layer; ``BoxSetItem`` strokes (and optionally
fills) N rectangles; ``BoxLabelsItem`` writes one short text per box at a constant screen size. Both
take a ``render.layers.BoxLayer``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QStaticText

from detviewer.render.model.nms_layers import MAX_LABELS, BoxLayer

__all__ = ["LayerItem", "BoxSetItem", "BoxLabelsItem", "rects_path", "bounds_of", "qimage_from_rgb"]

_ANTIALIAS_LIMIT = 1000  # antialiasing thousands of boxes costs more than it shows
# Qt's raster engine strokes translucent cosmetic lines ~10x slower than opaque ones
# (10k boxes: ~450 ms vs ~35 ms here), so big layers are drawn opaque.
_TRANSLUCENT_LIMIT = 1000


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


def _qcolor(rgb, alpha: int) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), int(alpha))


def bounds_of(xs, ys) -> QRectF:
    """The rectangle spanning coordinate arrays ``xs`` and ``ys`` (image pixels)."""
    x0, x1, y0, y1 = float(np.min(xs)), float(np.max(xs)), float(np.min(ys)), float(np.max(ys))
    return QRectF(x0, y0, x1 - x0, y1 - y0)


class LayerItem(pg.GraphicsObject):
    """Base of the items that draw one layer.

    ``set_layer`` keeps the layer (None or an empty layer: draw nothing), its extent in image pixels
    (``_extent_of``) and lets the subclass drop its caches (``_layer_changed``); ``boundingRect`` adds
    ``_margin()`` screen pixels around the extent, since pens and texts of a constant screen size reach
    beyond the geometry at any zoom.
    """

    def __init__(self) -> None:
        super().__init__()
        self._layer = None
        self._bounds = QRectF()

    @property
    def layer(self):
        return self._layer

    def set_layer(self, layer) -> None:
        self.prepareGeometryChange()
        self._layer = layer if layer is not None and len(layer) else None
        self._bounds = QRectF() if self._layer is None else self._extent_of(self._layer)
        self._layer_changed()
        self.update()

    def _extent_of(self, layer) -> QRectF:
        raise NotImplementedError

    def _layer_changed(self) -> None:
        """Drop what was cached for the previous layer (``self._layer`` is the new one, or None)."""

    def _margin(self) -> tuple[float, float]:
        """(x, y) screen pixels drawn beyond the extent: the pen width and antialiasing by default."""
        m = getattr(self._layer, "width", 0.0) + 2.0
        return m, m

    def boundingRect(self) -> QRectF:
        if self._layer is None:
            return QRectF()
        mx, my = self._margin()
        px = abs(self.pixelLength(pg.Point(1, 0)) or 1.0)
        py = abs(self.pixelLength(pg.Point(0, 1)) or 1.0)
        return self._bounds.adjusted(-mx * px, -my * py, mx * px, my * py)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()


class BoxSetItem(LayerItem):
    """Draws one BoxLayer: per distinct colour, one cached path and one ``drawPath`` call."""

    def __init__(self) -> None:
        super().__init__()
        self._groups: list | None = None

    def _extent_of(self, layer: BoxLayer) -> QRectF:
        return bounds_of(layer.xyxy[:, [0, 2]], layer.xyxy[:, [1, 3]])

    def _layer_changed(self) -> None:
        self._groups = None

    def _build(self) -> list[tuple[QPen, QBrush, QPainterPath, QPainterPath | None]]:
        layer = self._layer
        groups = []
        alpha = layer.alpha if len(layer) <= _TRANSLUCENT_LIMIT else 255
        packed = layer.colors.astype(np.int64) @ np.array([65536, 256, 1], np.int64)
        for key in np.unique(packed):
            members = packed == key
            rgb = layer.colors[np.argmax(members)]
            pen = QPen(_qcolor(rgb, alpha))
            pen.setWidthF(layer.width)
            pen.setCosmetic(True)  # width in screen pixels whatever the zoom
            if layer.dashed and len(layer) <= _TRANSLUCENT_LIMIT:
                pen.setStyle(Qt.PenStyle.DashLine)
            boxes = layer.xyxy[members]
            fill = rects_path(boxes, closed=True) if layer.fill_alpha else None
            groups.append((pen, QBrush(_qcolor(rgb, layer.fill_alpha)), rects_path(boxes), fill))
        return groups

    def paint(self, painter: QPainter, *args) -> None:
        if self._layer is None:
            return
        if self._groups is None:
            self._groups = self._build()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(self._layer) <= _ANTIALIAS_LIMIT)
        for pen, brush, stroke, fill in self._groups:
            if fill is not None:
                painter.fillPath(fill, brush)
            painter.setPen(pen)
            painter.drawPath(stroke)


class BoxLabelsItem(pg.GraphicsObject):
    """Short texts ("dog 0.91", "IoU 0.63") above each box's top-left corner, constant screen size."""

    def __init__(self, point_size: float = 9.0) -> None:
        super().__init__()
        self._font = QFont()
        self._font.setPointSizeF(point_size)
        self._metrics = QFontMetricsF(self._font)
        self._anchors = np.zeros((0, 2), np.float64)
        self._corners = np.zeros((0, 2), np.float64)
        self._texts: tuple[str, ...] = ()
        self._colors = np.zeros((0, 3), np.uint8)
        self._widths = np.zeros(0)
        self._static: list[QStaticText] | None = None
        self._bounds = QRectF()

    def set_layer(self, layer: BoxLayer | None) -> None:
        self.prepareGeometryChange()
        if layer is None or not layer.labels:
            self._anchors, self._texts = np.zeros((0, 2)), ()
            self._bounds = QRectF()
        else:
            n = min(len(layer.labels), len(layer), MAX_LABELS)
            self._anchors = layer.xyxy[:n, :2].astype(np.float64)
            self._corners = layer.xyxy[:n, 2:].astype(np.float64)
            self._texts = tuple(layer.labels[:n])
            self._colors = layer.colors[:n]
            self._widths = np.array([self._metrics.horizontalAdvance(t) for t in self._texts]) + 6
            self._static = None  # QStaticText per label, laid out once on first paint
            lo, hi = self._anchors.min(axis=0), layer.xyxy[:n, 2:].max(axis=0)
            self._bounds = QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        self.update()

    @property
    def texts(self) -> tuple[str, ...]:
        return self._texts

    def boundingRect(self) -> QRectF:
        if not self._texts:
            return QRectF()
        # Text has a fixed size in screen pixels: convert its extent to item units at this zoom.
        px = abs(self.pixelLength(pg.Point(1, 0)) or 1.0)
        py = abs(self.pixelLength(pg.Point(0, 1)) or 1.0)
        h = self._metrics.height() + 4
        return self._bounds.adjusted(-2 * px, -2 * h * py, float(self._widths.max()) * px, 2 * h * py)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, *args) -> None:
        if not self._texts:
            return
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.setFont(self._font)
        h = self._metrics.height() + 2
        if self._static is None:  # drawStaticText skips the per-call text layout of drawText
            self._static = []
            for text in self._texts:
                static = QStaticText(text)
                static.setTextFormat(Qt.TextFormat.PlainText)
                static.prepare(font=self._font)
                self._static.append(static)
        # Placed label rectangles (x1, y1, x2, y2) in screen pixels, for a vectorised overlap test.
        placed = np.empty((len(self._texts), 4))
        count = 0
        white, black = QColor(255, 255, 255), QColor(0, 0, 0)
        for (x, y), (x2, y2), static, rgb, w in zip(self._anchors, self._corners, self._static, self._colors,
                                                    self._widths):
            if not static.text():  # an empty label: the box is drawn without one
                continue
            top_left = transform.map(QPointF(float(x), float(y)))
            bottom = transform.map(QPointF(float(x2), float(y2))).y()
            left = top_left.x()
            # Above the box, else inside its top, else inside its bottom: the first spot no earlier
            # (higher-ranked) label covers; with none free the label is left out (hover tells).
            spots = [t for t in (top_left.y() - h, top_left.y(), bottom - h) if t >= 0] or [top_left.y()]
            top = spots[0]
            if count:
                p = placed[:count]
                near = p[(p[:, 0] < left + w) & (p[:, 2] > left)]
                free = [t for t in spots if not ((near[:, 1] < t + h) & (near[:, 3] > t)).any()]
                if not free:
                    continue
                top = free[0]
            placed[count] = (left, top, left + w, top + h)
            count += 1
            rect = QRectF(left, top, w, h)
            painter.fillRect(rect, _qcolor(rgb, 215))
            light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140
            painter.setPen(black if light else white)
            painter.drawStaticText(QPointF(left + 3, top + 1), static)
        painter.restore()
