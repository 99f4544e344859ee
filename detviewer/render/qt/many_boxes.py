"""A level-of-detail item for huge box sets (all the anchors of an FPN: 200k+ boxes)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from detviewer.render.model.primitives import BoxLayer
from detviewer.render.qt.layer_item import LayerItem
from detviewer.render.qt.style import bounds_of, color_groups, qcolor, rects_path

__all__ = ["ManyBoxesItem", "FRAME_BUDGET_MS"]

#: Estimated raster time of all ManyBoxesItems of a canvas together, per paint (ms).
FRAME_BUDGET_MS = 12.0
# Cost model of the raster engine's cosmetic 1-px stroke, measured here (bench/bench_anchor_paint.py):
# ~0.7 µs per box plus ~7 ns per stroked screen pixel.
_NS_PER_BOX, _NS_PER_PIXEL = 700.0, 7.0


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
        groups = color_groups(self._layer.colors)
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
            pen = QPen(qcolor(rgb, alpha))
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

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem | None = None,
              widget: QWidget | None = None) -> None:
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
