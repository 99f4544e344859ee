"""The base of every item that draws one layer (render.qt.layer_items, render.qt.many_boxes)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF

from detviewer.render.model.primitives import Layer

__all__ = ["LayerItem"]


class LayerItem(pg.GraphicsObject):
    """Base of the items that draw one layer.

    ``set_layer`` keeps the layer (None or an empty layer: draw nothing), its extent in image pixels
    (``_extent_of``) and lets the subclass drop its caches (``_layer_changed``); ``boundingRect`` adds
    ``_margin()`` screen pixels around the extent, since pens and texts of a constant screen size reach
    beyond the geometry at any zoom.
    """

    def __init__(self) -> None:
        super().__init__()
        self._layer: Layer | None = None
        self._bounds = QRectF()

    @property
    def layer(self) -> Layer | None:
        return self._layer

    def set_layer(self, layer: Layer | None) -> None:
        self.prepareGeometryChange()
        self._layer = layer if layer is not None and len(layer) else None
        self._bounds = QRectF() if self._layer is None else self._extent_of(self._layer)
        self._layer_changed()
        self.update()

    def _extent_of(self, layer: Layer) -> QRectF:
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
