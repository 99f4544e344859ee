"""Qt items for the teaching views' primitives, and a level-of-detail item for huge box sets.

- ``SegmentSetItem``: a SegmentLayer, one cached path per colour (dashed, arrow heads at constant
  screen size);
- ``TextSetItem``: a TextLayer at constant screen size, optional dark background;
- ``HeatmapItem``: a HeatmapLayer's values through its colormap, stretched over its rect;
- ``ImageSetItem``: an ImageLayer's pictures (warped crops) in their rects, with borders;
- ``ManyBoxesItem``: a BoxLayer of tens or hundreds of thousands of boxes (all the anchors of an
  FPN): drawn in full when the estimated stroke cost fits a per-frame budget, else a uniform random
  sample of the boxes in view (``drawn`` / ``visible`` tell how many; the canvas prints a note).
- ``paint_layer(painter, layer, style)``: paints any layer with these items (offscreen export).

All items take widths and text sizes in screen pixels, multiplied by ``RenderStyle`` (lecture mode:
thick lines, large fonts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF

from detviewer.render.qt.items import BoxLabelsItem, BoxSetItem, LayerItem, bounds_of, qimage_from_rgb, rects_path
from detviewer.render.model.primitives import BoxLayer
from detviewer.render.model.primitives import HeatmapLayer, ImageLayer, SegmentLayer, TextLayer

__all__ = ["RenderStyle", "NORMAL", "LECTURE", "SegmentSetItem", "TextSetItem", "HeatmapItem", "ImageSetItem",
           "ManyBoxesItem", "paint_layer", "styled", "MANY_BOXES", "qimage_from_heatmap"]

#: BoxLayers longer than this go to ManyBoxesItem on the canvas (2,550 anchors of 256 px cost ~25 ms).
MANY_BOXES = 1000
#: Estimated raster time of all ManyBoxesItems of a canvas together, per paint (ms).
FRAME_BUDGET_MS = 12.0
_MAX_COLOR_GROUPS = 24  # more distinct colours than this (an objectness colormap) are drawn as quantiles
# Cost model of the raster engine's cosmetic 1-px stroke, measured here (bench/bench_anchor_paint.py):
# ~0.7 µs per box plus ~7 ns per stroked screen pixel.
_NS_PER_BOX, _NS_PER_PIXEL = 700.0, 7.0


@dataclass(frozen=True)
class RenderStyle:
    """line_scale multiplies every pen width, font_scale every text size (lecture mode: LECTURE)."""

    line_scale: float = 1.0
    font_scale: float = 1.0


NORMAL = RenderStyle()
#: Lecture mode and ``render --lecture``: lines and text twice as large, readable from the back of a hall.
LECTURE = RenderStyle(line_scale=2.0, font_scale=2.0)


def styled(layer, style: RenderStyle):
    """The layer with widths / text sizes scaled by ``style`` (the same object when style is NORMAL)."""
    if style == NORMAL:
        return layer
    if isinstance(layer, (BoxLayer, SegmentLayer, ImageLayer)):
        return replace(layer, width=layer.width * style.line_scale)
    if isinstance(layer, TextLayer):
        return replace(layer, size=layer.size * style.font_scale)
    return layer


def _qcolor(rgb, alpha: int = 255) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), int(alpha))


def _color_groups(colors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
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


class ManyBoxesItem(LayerItem):
    """Draws one big BoxLayer under a per-frame stroke budget (level of detail).

    budget_ms: estimated raster time allowed per paint (None: draw everything, as export does).
    Boxes are stored in a fixed random order, so any prefix of the boxes in view is a uniform
    sample that stays put while panning.
    """

    def __init__(self, budget_ms: float | None = FRAME_BUDGET_MS, seed: int = 0) -> None:
        super().__init__()
        self.budget_ms = budget_ms
        self._seed = seed
        self._cache_key = None
        self._cache: list[tuple[QPen, QPainterPath]] = []
        self._plan_key = None
        self._full: list[tuple[QPen, QPainterPath]] | None = None
        self.visible = 0  # boxes in view at the last paint
        self.drawn = 0  # boxes stroked at the last paint

    def _extent_of(self, layer: BoxLayer) -> QRectF:
        return bounds_of(layer.xyxy[:, [0, 2]], layer.xyxy[:, [1, 3]])

    def _layer_changed(self) -> None:
        self._cache_key, self._cache, self._full = None, [], None
        self._plan_key = None
        self.visible = self.drawn = 0
        if self._layer is None:
            return
        groups = _color_groups(self._layer.colors)
        rng = np.random.default_rng(self._seed)
        perm = rng.permutation(len(self._layer))
        group_of = np.empty(len(self._layer), np.int32)
        for g, (_, members) in enumerate(groups):
            group_of[members] = g
        self._xyxy = np.ascontiguousarray(self._layer.xyxy[perm], np.float32)
        self._group = group_of[perm]
        self._group_rgb = [rgb for rgb, _ in groups]
        wh = self._xyxy[:, 2:] - self._xyxy[:, :2]
        self._perimeter = 2.0 * np.abs(wh).sum(axis=1)

    def _pens(self, width: float) -> list[QPen]:
        layer = self._layer
        alpha = layer.alpha if len(layer) <= 1000 else 255  # translucent strokes are ~10x slower
        pens = []
        for rgb in self._group_rgb:
            pen = QPen(_qcolor(rgb, alpha))
            pen.setWidthF(width)
            pen.setCosmetic(True)
            pens.append(pen)
        return pens

    def _paths(self, chosen: np.ndarray) -> list[tuple[QPen, QPainterPath]]:
        pens = self._pens(self._layer.width)
        out = []
        groups = self._group[chosen]
        for g, pen in enumerate(pens):
            boxes = self._xyxy[chosen[groups == g]]
            if len(boxes):
                out.append((pen, rects_path(boxes)))
        return out

    def plan(self, view: QRectF | None, pixels_per_unit: float) -> tuple[np.ndarray | None, int, tuple]:
        """(indices to draw or None for all, boxes in view, cache key) for this view rect and zoom.

        The view rect is grown by a quarter of its size and snapped to a coarse grid, and the zoom
        to steps of 2^(1/4): panning a little or repainting reuses the cached paths.
        """
        n = len(self._xyxy)
        if view is None or self.budget_ms is None:
            return None, n, ("all",)
        view = view.normalized()
        q = max(view.width(), view.height(), 1e-6) / 4
        x0, y0 = math.floor(view.left() / q) * q - q, math.floor(view.top() / q) * q - q
        x1, y1 = math.ceil(view.right() / q) * q + q, math.ceil(view.bottom() / q) * q + q
        zoom = 2.0 ** (round(math.log2(max(pixels_per_unit, 1e-6)) * 4) / 4)
        key = (round(x0, 3), round(y0, 3), round(x1, 3), round(y1, 3), zoom, self.budget_ms)
        b = self._xyxy
        inside = (b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)
        visible = np.flatnonzero(inside)
        # Only the part of an outline inside the (grown) view is stroked; the rest is clipped.
        wh = np.minimum(b[visible, 2:] - b[visible, :2], np.array([x1 - x0, y1 - y0], np.float32))
        cost_ns = _NS_PER_BOX + _NS_PER_PIXEL * zoom * 2.0 * np.abs(wh).sum(axis=1)
        cumulative = np.cumsum(cost_ns)
        if len(visible) == n and (not len(cumulative) or cumulative[-1] <= self.budget_ms * 1e6):
            return None, n, ("all",)
        k = int(np.searchsorted(cumulative, self.budget_ms * 1e6))
        return visible[:k], len(visible), key

    def paint(self, painter: QPainter, option=None, widget=None) -> None:
        if self._layer is None:
            return
        t = painter.transform()
        pixels_per_unit = math.sqrt(abs(t.determinant())) or 1.0
        view = None
        if self.budget_ms is not None and painter.device() is not None:
            # What the painter's device shows, in item coordinates (pyqtgraph's viewRect() lags a zoom).
            device = QRectF(0, 0, painter.device().width(), painter.device().height())
            inverse, ok = t.inverted()
            view = inverse.mapRect(device) if ok else None
        if view is not None and self._plan_key is not None and self._plan_key[0] == (view, pixels_per_unit):
            chosen, visible, key = self._plan_key[1]  # a repaint without a view change
        else:
            chosen, visible, key = self.plan(view, pixels_per_unit)
            self._plan_key = ((view, pixels_per_unit), (chosen, visible, key))
        self.visible = visible
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if chosen is None:
            if self._full is None:
                self._full = self._paths(np.arange(len(self._xyxy)))
            paths = self._full
            self.drawn = len(self._xyxy)
        else:
            if key != self._cache_key:
                self._cache_key, self._cache = key, self._paths(chosen)
            paths = self._cache
            self.drawn = len(chosen)
        for pen, path in paths:
            painter.setPen(pen)
            painter.drawPath(path)


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
        for rgb, members in _color_groups(layer.colors):
            pen = QPen(_qcolor(rgb, layer.alpha))
            pen.setWidthF(layer.width)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            if layer.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            s = layer.segments[members].astype(np.float64)
            path = pg.arrayToQPath(s[:, [0, 2]].ravel(), s[:, [1, 3]].ravel(), connect="pairs")
            groups.append((pen, path, s, rgb))
        return groups

    def paint(self, painter: QPainter, option=None, widget=None) -> None:
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
            painter.setBrush(QBrush(_qcolor(rgb, self._layer.alpha)))
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


class TextSetItem(LayerItem):
    """Draws a TextLayer: each text at its image position, in a font of constant screen size."""

    def __init__(self) -> None:
        super().__init__()
        self._font = QFont()
        self._metrics = QFontMetricsF(self._font)
        self._text_extent = (0.0, 0.0)

    @property
    def texts(self) -> tuple[str, ...]:
        return self._layer.texts if self._layer is not None else ()

    def _extent_of(self, layer: TextLayer) -> QRectF:
        return bounds_of(layer.positions[:, 0], layer.positions[:, 1])

    def _layer_changed(self) -> None:
        if self._layer is None:
            return
        self._font = QFont()
        self._font.setPixelSize(max(1, round(self._layer.size)))
        self._font.setBold(True)
        self._metrics = QFontMetricsF(self._font)
        self._text_extent = (max(self._metrics.horizontalAdvance(t) for t in self._layer.texts) + 12,
                             self._metrics.height() + 8)

    def _margin(self) -> tuple[float, float]:
        return self._text_extent  # a text may sit on any side of its position

    def text_rects(self, transform) -> list[QRectF]:
        """Screen rectangles of the texts (with their padding) under ``transform``."""
        layer = self._layer
        rects = []
        h = self._metrics.height() + 4
        for (x, y), text in zip(layer.positions, layer.texts):
            w = self._metrics.horizontalAdvance(text) + 8
            p = transform.map(QPointF(float(x), float(y)))
            if layer.anchor == "center":
                rects.append(QRectF(p.x() - w / 2, p.y() - h / 2, w, h))
            elif layer.anchor == "bottom-left":
                rects.append(QRectF(p.x(), p.y() - h, w, h))
            else:
                rects.append(QRectF(p.x(), p.y(), w, h))
        return rects

    def paint(self, painter: QPainter, option=None, widget=None) -> None:
        if self._layer is None:
            return
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.setFont(self._font)
        for rect, text, rgb in zip(self.text_rects(transform), self._layer.texts, self._layer.colors):
            if self._layer.background:
                painter.fillRect(rect, QColor(0, 0, 0, 175))
            painter.setPen(_qcolor(rgb))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def qimage_from_heatmap(layer: HeatmapLayer):
    """The heatmap's (H, W) values through its colormap, as a QImage with the layer's alpha."""
    from PySide6.QtGui import QImage

    rgb = layer.rgb()
    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, np.full((h, w, 1), layer.alpha, np.uint8)], axis=2)
    rgba = np.ascontiguousarray(rgba)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


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

    def paint(self, painter: QPainter, option=None, widget=None) -> None:
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

    def paint(self, painter: QPainter, option=None, widget=None) -> None:
        layer = self._layer
        if layer is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        for (x1, y1, x2, y2), image, rgb in zip(layer.rects.tolist(), self._images, layer.colors):
            rect = QRectF(x1, y1, x2 - x1, y2 - y1)
            painter.drawImage(rect, image)
            if layer.width > 0:
                pen = QPen(_qcolor(rgb))
                pen.setWidthF(layer.width)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
        painter.restore()


def item_for(layer, budget_ms: float | None = FRAME_BUDGET_MS):
    """A new item that can draw ``layer`` (not yet given the layer)."""
    if isinstance(layer, SegmentLayer):
        return SegmentSetItem()
    if isinstance(layer, TextLayer):
        return TextSetItem()
    if isinstance(layer, HeatmapLayer):
        return HeatmapItem()
    if isinstance(layer, ImageLayer):
        return ImageSetItem()
    if isinstance(layer, BoxLayer):
        return ManyBoxesItem(budget_ms) if len(layer) > MANY_BOXES else BoxSetItem()
    raise TypeError(f"cannot draw a {type(layer).__name__}")


def paint_layer(painter: QPainter, layer, style: RenderStyle = NORMAL, labels: bool = True) -> None:
    """Paint one layer in full (no level of detail) with the painter's current transform."""
    layer = styled(layer, style)
    item = item_for(layer, budget_ms=None)
    item.set_layer(layer)
    item.paint(painter)
    if labels and isinstance(layer, BoxLayer) and layer.labels:
        text = BoxLabelsItem(9.0 * style.font_scale)
        text.set_layer(layer)
        text.paint(painter)
