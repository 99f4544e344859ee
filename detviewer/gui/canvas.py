"""The canvas: the frame (pyqtgraph ImageItem) with box layers on top, zoom/pan, hover tooltips."""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np


def _import_pyqtgraph():
    # pyqtgraph's RawImageWidget (unused here) imports cuda-python when it is installed, which
    # costs ~0.1 s of start-up; hide it during this import only (torch may still load it later).
    hide = "cuda.bindings" not in sys.modules
    if hide:
        sys.modules["cuda.bindings"] = None
    try:
        import pyqtgraph
    finally:
        if hide and sys.modules.get("cuda.bindings", 0) is None:
            del sys.modules["cuda.bindings"]
    return pyqtgraph


pg = _import_pyqtgraph()
from PySide6.QtCore import QPointF, QRectF, Qt, Signal  # noqa: E402
from PySide6.QtGui import QColor, QCursor  # noqa: E402
from PySide6.QtWidgets import QLabel, QToolTip  # noqa: E402

from detviewer.render.items import BoxLabelsItem, BoxSetItem  # noqa: E402
from detviewer.render.layers import LAYER_NAMES, BoxLayer  # noqa: E402

__all__ = ["Canvas", "EMPTY_HINT"]

pg.setConfigOptions(imageAxisOrder="row-major")

EMPTY_HINT = "Open an image, folder, video or camera\n(File menu, or drop files here)"


class Canvas(pg.GraphicsView):
    """Shows one RGB frame and the layers of ``render.layers``; box hits go through ``describe``."""

    box_clicked = Signal(object)  # candidate index (int) or None

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._hint = QLabel(EMPTY_HINT, self)
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._hint.setStyleSheet("color: #c8c8c8; font-size: 15px; background: transparent;")
        self._hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setBackground(QColor(38, 38, 42))
        self.setAcceptDrops(False)  # files dropped on the frame go to the window
        self.viewport().setAcceptDrops(False)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self._items: dict[str, tuple[BoxSetItem, BoxLabelsItem]] = {}
        for z, name in enumerate(LAYER_NAMES):
            self._add_items(name, z=10 + z)
        self._layers: list[BoxLayer] = []
        self._image_size: tuple[int, int] | None = None
        self.describe: Callable[[int], str] | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # -- content ----------------------------------------------------------------------------
    def set_frame(self, image: np.ndarray) -> None:
        """image (H, W, 3) uint8 RGB; the view fits the frame when its size changes."""
        self.image_item.setImage(image, autoLevels=False, levels=None)  # uint8 RGB: no rescaling pass
        size = (int(image.shape[0]), int(image.shape[1]))
        if size != self._image_size:
            self._image_size = size
            self.fit()
        self._hint.hide()

    def clear_frame(self, message: str = EMPTY_HINT) -> None:
        """Remove the frame and boxes and show ``message`` in the middle."""
        self.image_item.clear()
        self._image_size = None
        self.set_layers([])
        self.show_hint(message)

    def show_hint(self, message: str) -> None:
        self._hint.setText(message)
        self._hint.show()
        self._place_hint()

    def fit(self) -> None:
        if self._image_size is not None:
            h, w = self._image_size
            self.view.setRange(QRectF(0, 0, w, h), padding=0.01)

    def set_layers(self, layers: list[BoxLayer]) -> None:
        """Show these layers (NMS layers in LAYER_NAMES order; other names, e.g. from
        ``render.views``, below them in the order given); layers not listed are cleared."""
        by_name = {layer.name: layer for layer in layers}
        for z, layer in enumerate(x for x in layers if x.name not in LAYER_NAMES):
            if layer.name not in self._items:
                self._add_items(layer.name, z=1 + z * 0.01)
        extra = [x for x in layers if x.name not in LAYER_NAMES]
        self._layers = extra + [by_name[n] for n in LAYER_NAMES if n in by_name]
        for name, (boxes, labels) in self._items.items():
            layer = by_name.get(name)
            if layer is None and boxes.layer is None:
                continue
            boxes.set_layer(layer)
            labels.set_layer(layer)

    def _add_items(self, name: str, z: float) -> None:
        boxes, labels = BoxSetItem(), BoxLabelsItem()
        boxes.setZValue(z)
        labels.setZValue(90 + z)
        self.view.addItem(boxes, ignoreBounds=True)
        self.view.addItem(labels, ignoreBounds=True)
        self._items[name] = (boxes, labels)

    @property
    def layers(self) -> list[BoxLayer]:
        return list(self._layers)

    def label_texts(self, name: str) -> tuple[str, ...]:
        return self._items[name][1].texts

    # -- hit testing --------------------------------------------------------------------------
    def box_at(self, x: float, y: float) -> int | None:
        """Candidate index of the smallest box under image point (x, y), topmost layer first."""
        for layer in reversed(self._layers):
            if not len(layer):
                continue
            b = layer.xyxy
            inside = (b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])
            if inside.any():
                hits = np.flatnonzero(inside)
                area = (b[hits, 2] - b[hits, 0]) * (b[hits, 3] - b[hits, 1])
                return int(layer.index[hits[np.argmin(area)]])
        return None

    def _on_mouse_moved(self, scene_pos) -> None:
        if not self._layers or self.describe is None:
            return
        p = self.view.mapSceneToView(scene_pos)
        index = self.box_at(p.x(), p.y())
        if index is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), self.describe(index), self)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        p = self.view.mapSceneToView(event.scenePos())
        self.box_clicked.emit(self.box_at(p.x(), p.y()))

    def image_to_widget(self, x: float, y: float) -> QPointF:
        """Widget pixel position of image point (x, y) (for tests and overlays)."""
        scene = self.view.mapViewToScene(QPointF(x, y))
        return QPointF(self.mapFromScene(scene))

    # -- layout -------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_hint()

    def _place_hint(self) -> None:
        if getattr(self, "_hint", None) is None:  # resize events arrive during GraphicsView.__init__
            return
        self._hint.setGeometry(0, 0, self.width(), self.height())
