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
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtGui import QColor, QCursor  # noqa: E402
from PySide6.QtWidgets import QLabel, QToolTip  # noqa: E402

from detviewer.render.qt.items import BoxLabelsItem, BoxSetItem  # noqa: E402
from detviewer.render.model.nms_layers import LAYER_NAMES, NOT_CANDIDATES, BoxLayer  # noqa: E402
from detviewer.render.qt.primitive_items import ManyBoxesItem, RenderStyle  # noqa: E402

__all__ = ["Canvas", "EMPTY_HINT"]

pg.setConfigOptions(imageAxisOrder="row-major")

EMPTY_HINT = "Open an image, folder, video or camera\n(File menu, or drop files here)"


class Canvas(pg.GraphicsView):
    """Shows one RGB frame and the layers of ``render.layers``; box hits go through ``describe``."""

    point_clicked = Signal(float, float)  # image pixel (x, y) of a left click (the view decides what it picks)

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
        self.style = RenderStyle()
        self._items: dict[str, tuple] = {}  # name -> (item drawing the layer, BoxLabelsItem or None)
        self._note = QLabel(self)  # "drawing a sample" note of level-of-detail box layers
        self._note.setStyleSheet("color: #f0f0f0; background: rgba(0, 0, 0, 170); padding: 3px 6px;")
        self._note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._note.hide()
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(60)
        self._note_timer.timeout.connect(self._refresh_note)
        for z, name in enumerate(LAYER_NAMES):
            self._add_items(name, z=10 + z)
        self._layers: list = []
        self._image_size: tuple[int, int] | None = None
        self.describe: Callable[[int], str] | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.view.sigRangeChanged.connect(lambda *_: self._update_note())

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

    def set_layers(self, layers: list) -> None:
        """Show these layers (NMS layers in LAYER_NAMES order; other names, e.g. from
        ``render.views``, below them in the order given); layers not listed are cleared.

        BoxLayer, SegmentLayer, TextLayer and HeatmapLayer are drawn (render.primitive_items); box
        layers longer than MANY_BOXES draw under a per-frame budget (a sample when zoomed out).
        """
        from detviewer.render.qt.primitive_items import styled

        layers = [styled(layer, self.style) for layer in layers]
        by_name = {layer.name: layer for layer in layers}
        extra = [x for x in layers if x.name not in LAYER_NAMES]
        for z, layer in enumerate(extra):
            self._ensure_items(layer, z=1 + z * 0.01)
        for layer in layers:
            if layer.name in LAYER_NAMES:
                self._ensure_items(layer, z=10 + LAYER_NAMES.index(layer.name))
        self._layers = extra + [by_name[n] for n in LAYER_NAMES if n in by_name]
        for name, (item, labels) in self._items.items():
            layer = by_name.get(name)
            if layer is None and item.layer is None:
                continue
            item.set_layer(layer)
            if labels is not None:
                labels.set_layer(layer)
        self._share_budget()
        self._update_note()

    def _share_budget(self) -> None:
        """Split the per-paint budget of huge box layers between them, by their box counts."""
        from detviewer.render.qt.primitive_items import FRAME_BUDGET_MS

        big = [item for item, _ in self._items.values() if isinstance(item, ManyBoxesItem) and item.layer is not None]
        total = sum(len(item.layer) for item in big)
        for item in big:
            item.budget_ms = FRAME_BUDGET_MS * max(len(item.layer) / total, 0.1)

    def _ensure_items(self, layer, z: float) -> None:
        """Items for ``layer.name`` that can draw this kind (and size) of layer, at depth z."""
        from detviewer.render.qt.primitive_items import item_for

        wanted = type(item_for(layer))
        have = self._items.get(layer.name)
        if have is not None and type(have[0]) is wanted:
            have[0].setZValue(z)
            if have[1] is not None:
                have[1].setZValue(90 + z)
            return
        if have is not None:
            for old in have:
                if old is not None:
                    self.view.removeItem(old)
        self._add_items(layer.name, z, item_for(layer))

    def _add_items(self, name: str, z: float, item=None) -> None:
        item = BoxSetItem() if item is None else item
        item.setZValue(z)
        self.view.addItem(item, ignoreBounds=True)
        labels = None
        if isinstance(item, (BoxSetItem, ManyBoxesItem)):
            labels = BoxLabelsItem(9.0 * self.style.font_scale)
            labels.setZValue(90 + z)
            self.view.addItem(labels, ignoreBounds=True)
        self._items[name] = (item, labels)

    def set_style(self, style) -> None:
        """RenderStyle for lecture mode (thick lines, large fonts); redraws the current layers."""
        if style == self.style:
            return
        self.style = style
        layers = self._layers
        for item, labels in self._items.values():
            self.view.removeItem(item)
            if labels is not None:
                self.view.removeItem(labels)
        self._items = {}
        for z, name in enumerate(LAYER_NAMES):
            self._add_items(name, z=10 + z)
        self._layers = []
        self.set_layers(layers)

    def _update_note(self) -> None:
        """Say so when a huge box set is drawn as a sample (after the next paint)."""
        self._note_timer.start()

    def lod_counts(self) -> tuple[int, int]:
        """(boxes drawn, boxes in view) of the big box layers at their last paint."""
        drawn = visible = 0
        for item, _ in self._items.values():
            if isinstance(item, ManyBoxesItem) and item.layer is not None:
                drawn += item.drawn
                visible += item.visible
        return drawn, visible

    def _refresh_note(self) -> None:
        drawn, visible = self.lod_counts()
        if visible and drawn < visible:
            self._note.setText(f"Zoomed out: drawing a random {drawn:,} of the {visible:,} boxes in view "
                               "(zoom in to see every box)")
            self._note.adjustSize()
            self._note.move(8, self.height() - self._note.height() - 8)
            self._note.show()
        else:
            self._note.hide()

    @property
    def layers(self) -> list[BoxLayer]:
        return list(self._layers)

    def label_texts(self, name: str) -> tuple[str, ...]:
        item, labels = self._items[name]
        return labels.texts if labels is not None else getattr(item, "texts", ())

    def item(self, name: str):
        """The graphics item drawing layer ``name`` (tests, benchmarks)."""
        return self._items[name][0]

    # -- hit testing --------------------------------------------------------------------------
    def box_at(self, x: float, y: float) -> int | None:
        """Candidate index of the smallest box under image point (x, y), topmost layer first."""
        for layer in reversed(self._layers):
            if not isinstance(layer, BoxLayer) or not len(layer) or layer.name in NOT_CANDIDATES:
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
        self.point_clicked.emit(float(p.x()), float(p.y()))

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
