"""The frame under the boxes, at the detail the view needs: a huge photo is shown from its shrunk copy
(``Frame.display``) while zoomed out, and from the full-resolution pixels of the visible region only once
zoomed in past that copy's detail. Coordinates stay the frame's pixels either way (the item's rect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF

if TYPE_CHECKING:  # pyqtgraph is imported by gui.canvas, which hides CUDA from it first
    import pyqtgraph as pg

__all__ = ["FrameImage"]

_DETAIL = 1.5  # swap to full resolution once a pixel of the copy covers more than this many screen pixels


class FrameImage:
    """Owns the ImageItem of a canvas's ViewBox; ``refresh()`` after the view range changed."""

    def __init__(self, item: pg.ImageItem, view: pg.ViewBox) -> None:
        self.item, self.view = item, view
        self.full: np.ndarray | None = None
        self.display: np.ndarray | None = None
        self.region: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) of the full pixels shown

    def show(self, image: np.ndarray, display: np.ndarray | None = None) -> None:
        """image (H, W, 3) uint8 RGB; display: a shrunk copy of it to show while zoomed out (or None). Call
        ``refresh`` once the view range is set."""
        self.full, self.display, self.region = image, display, None
        self._set(display if display is not None else image, (0, 0, image.shape[1], image.shape[0]))

    def clear(self) -> None:
        self.full = self.display = self.region = None
        self.item.clear()

    @property
    def shown(self) -> np.ndarray | None:
        """The array on screen now: the full image, its shrunk copy, or a full-resolution crop."""
        return self.item.image

    def refresh(self) -> None:
        """Full-resolution pixels of the visible region when the copy is too coarse for the zoom, else the copy."""
        if self.full is None or self.display is None:
            return
        h, w = self.full.shape[:2]
        rect, size = self.view.viewRect(), self.view.boundingRect()  # the range set, even before it is painted
        if size.width() < 1 or size.height() < 1:
            return
        per_pixel = max(rect.width() / size.width(), rect.height() / size.height())  # frame px per screen px
        coarse = (w / self.display.shape[1]) / max(per_pixel, 1e-9) > _DETAIL
        if not coarse:
            if self.region is not None:
                self.region = None
                self._set(self.display, (0, 0, w, h))
            return
        margin_x, margin_y = rect.width() * 0.1, rect.height() * 0.1  # panning a little needs no new crop
        region = (max(0, int(rect.left() - margin_x)), max(0, int(rect.top() - margin_y)),
                  min(w, int(np.ceil(rect.right() + margin_x))), min(h, int(np.ceil(rect.bottom() + margin_y))))
        if region[2] <= region[0] or region[3] <= region[1]:
            return
        if self.region is not None and _contains(self.region, rect):
            return
        self.region = region
        x0, y0, x1, y1 = region
        self._set(np.ascontiguousarray(self.full[y0:y1, x0:x1]), region)

    def _set(self, array: np.ndarray, rect: tuple[int, int, int, int]) -> None:
        self.item.setImage(array, autoLevels=False, levels=None)  # uint8 RGB: no rescaling pass
        x0, y0, x1, y1 = rect
        if (x0, y0, x1 - x0, y1 - y0) == (0, 0, array.shape[1], array.shape[0]):
            if not self.item.transform().isIdentity():  # setRect costs ms: the view re-reads every bound
                self.item.resetTransform()
            return
        self.item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))


def _contains(region: tuple[int, int, int, int], rect: QRectF) -> bool:
    x0, y0, x1, y1 = region
    return x0 <= rect.left() and y0 <= rect.top() and rect.right() <= x1 and rect.bottom() <= y1
