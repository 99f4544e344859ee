"""The canvas: the frame (pyqtgraph ImageItem) with box layers on top, zoom/pan, hover tooltips."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

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

from detviewer.gui.frame_image import FrameImage  # noqa: E402
from detviewer.render.model.nms_layers import NOT_CANDIDATES  # noqa: E402
from detviewer.render.model.primitives import BoxLayer, TextLayer  # noqa: E402
from detviewer.render.qt.export import drawing_order  # noqa: E402
from detviewer.render.qt.labels import LabelsItem  # noqa: E402
from detviewer.render.qt.many_boxes import FRAME_BUDGET_MS, ManyBoxesItem  # noqa: E402
from detviewer.render.qt.style import RenderStyle, styled  # noqa: E402

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
    from PySide6.QtGui import QResizeEvent
    from PySide6.QtWidgets import QWidget

    from detviewer.render.model.primitives import Layer

__all__ = ["Canvas", "EMPTY_HINT"]

pg.setConfigOptions(imageAxisOrder="row-major")

EMPTY_HINT = "Open an image, folder, video or camera\n(File menu, or drop files here)"


class Canvas(pg.GraphicsView):
    """Shows one RGB frame and the layers of ``render.layers``; box hits go through ``describe``."""

    point_clicked = Signal(float, float)  # image pixel (x, y) of a left click (the view decides what it picks)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hint = QLabel(EMPTY_HINT, self)
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._hint.setWordWrap(True)  # a long sentence (a broken file's path and why) wraps, never clipped
        self._hint.setContentsMargins(40, 20, 40, 20)
        self._hint.setStyleSheet("color: #c8c8c8; font-size: 15px; background: transparent;")
        self._hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setBackground(QColor(38, 38, 42))
        self.setAcceptDrops(False)  # files dropped on the frame go to the window
        self.viewport().setAcceptDrops(False)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.frame_image = FrameImage(self.image_item, self.view)  # a huge photo: shrunk copy or visible crop
        self.style = RenderStyle()
        self._items: dict[str, object] = {}  # layer name -> the item drawing it (render.qt.layer_items)
        self.labels_item = LabelsItem()  # every label of every layer, placed together (render.model.labels)
        self.labels_item.setZValue(100)
        self.view.addItem(self.labels_item, ignoreBounds=True)
        self._note = QLabel(self)  # "drawing a sample" note of level-of-detail box layers
        self._note.setStyleSheet("color: #f0f0f0; background: rgba(0, 0, 0, 170); padding: 3px 6px;")
        self._note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._note.hide()
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(60)
        self._note_timer.timeout.connect(self._refresh_note)
        self._note_timer.timeout.connect(self.frame_image.refresh)  # after zooming: the detail the view needs
        # the scene's items can be destroyed before this widget (teardown): a pending refresh must not reach them
        self.view.destroyed.connect(self._note_timer.stop)
        self._layers: list = []
        self._source_layers: list = []
        self._legend: tuple = ()
        self._dim = 0.0
        self._image_size: tuple[int, int] | None = None
        self.describe: Callable[[int], str] | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.view.sigRangeChanged.connect(lambda *_: self._update_note())

    # -- content ----------------------------------------------------------------------------
    def set_frame(self, image: np.ndarray, display: np.ndarray | None = None) -> None:
        """image (H, W, 3) uint8 RGB; display: its shrunk copy to show while zoomed out (``Frame.display``).
        The view fits the frame when its size changes."""
        self.frame_image.show(image, display)
        size = (int(image.shape[0]), int(image.shape[1]))
        if size != self._image_size:
            self._image_size = size
            self.fit()
        self.frame_image.refresh()  # zoomed in on a huge frame: the full pixels of the visible region
        self._hint.hide()

    def clear_frame(self, message: str = EMPTY_HINT) -> None:
        """Remove the frame and boxes and show ``message`` in the middle."""
        self.frame_image.clear()
        self._image_size = None
        self.set_layers([])
        self.show_hint(message)

    def hint_text(self) -> str:
        """The sentence shown in the middle of the canvas ("" when a frame is shown)."""
        return self._hint.text() if self._hint.isVisible() else ""

    def hint_fits(self) -> bool:
        """The hint's wrapped text fits inside the canvas (no word cut off at the sides)."""
        hint, room = self._hint, self._hint.width() - 80
        metrics = hint.fontMetrics()
        if hint.wordWrap():
            width = metrics.boundingRect(0, 0, room, 10000, int(Qt.TextFlag.TextWordWrap), hint.text()).width()
        else:
            width = max(metrics.horizontalAdvance(line) for line in hint.text().split("\n"))
        return width <= room and hint.heightForWidth(hint.width()) <= self.height()

    def show_hint(self, message: str) -> None:
        self._hint.setText(message)
        self._hint.show()
        self._place_hint()

    def fit(self) -> None:
        if self._image_size is not None:
            h, w = self._image_size
            self.view.setRange(QRectF(0, 0, w, h), padding=0.01)

    def set_layers(self, layers: list, legend: Sequence[tuple[str, tuple[int, int, int]]] = (),
                   dim: float = 0.0) -> None:
        """Show these layers: teaching-view layers in the order given, the NMS layers (LAYER_NAMES) above
        them; layers not listed are cleared. Box layers longer than MANY_BOXES draw under a per-frame budget
        (a sample when zoomed out); the labels of all layers are placed and drawn together on top, clear
        of the legend (``ViewFrame.legend``) at the bottom left; dim fades the frame under the layers.
        """
        self._source_layers, self._legend, self._dim = list(layers), tuple(legend), float(dim)
        self.image_item.setOpacity(1.0 - min(max(self._dim, 0.0), 0.9))
        layers = drawing_order([styled(layer, self.style) for layer in layers])
        by_name = {layer.name: layer for layer in layers}
        for z, layer in enumerate(layers):
            if not isinstance(layer, TextLayer):
                self._ensure_item(layer, z=1 + z * 0.01)
        self._layers = layers
        for name, item in self._items.items():
            layer = by_name.get(name)
            if layer is not None or item.layer is not None:
                item.set_layer(layer)
        self.labels_item.set_layers(layers, self.style, self._legend)
        self._share_budget()
        self._update_note()

    def _share_budget(self) -> None:
        """Split the per-paint budget of huge box layers between them, by their box counts."""
        big = [item for item in self._items.values() if isinstance(item, ManyBoxesItem) and item.layer is not None]
        total = sum(len(item.layer) for item in big)
        for item in big:
            item.budget_ms = FRAME_BUDGET_MS * max(len(item.layer) / total, 0.1)

    def _ensure_item(self, layer: Layer, z: float) -> None:
        """An item for ``layer.name`` that can draw this kind (and size) of layer, at depth z."""
        from detviewer.render.qt.layer_items import item_for

        wanted = item_for(layer, level_of_detail=True)
        have = self._items.get(layer.name)
        if have is not None and type(have) is type(wanted):
            have.setZValue(z)
            return
        if have is not None:
            self.view.removeItem(have)
        wanted.setZValue(z)
        self.view.addItem(wanted, ignoreBounds=True)
        self._items[layer.name] = wanted

    def set_style(self, style: RenderStyle) -> None:
        """RenderStyle for lecture mode (thick lines, large fonts); redraws the current layers."""
        if style == self.style:
            return
        self.style = style
        self.set_layers(self._source_layers, self._legend, self._dim)

    def _update_note(self) -> None:
        """Say so when a huge box set is drawn as a sample (after the next paint)."""
        self._note_timer.start()

    def note_text(self) -> str:
        """The level-of-detail note shown over the canvas ("" when every box in view is drawn)."""
        return self._note.text() if self._note.isVisible() else ""

    def note_rect(self) -> tuple[float, float, float, float] | None:
        """(x, y, w, h) viewport pixels of the level-of-detail note; None while it is hidden."""
        if not self._note.isVisible():
            return None
        corner = self.viewport().mapFrom(self, self._note.pos())
        return float(corner.x()), float(corner.y()), float(self._note.width()), float(self._note.height())

    def lod_counts(self) -> tuple[int, int]:
        """(boxes drawn, boxes in view) of the big box layers at their last paint."""
        drawn = visible = 0
        for item in self._items.values():
            if isinstance(item, ManyBoxesItem) and item.layer is not None:
                drawn += item.drawn
                visible += item.visible
        return drawn, visible

    def _refresh_note(self) -> None:
        drawn, visible = self.lod_counts()
        if visible and drawn < visible:
            self._note.setText(f"Zoomed out: drawing a random {drawn:,} of the {visible:,} boxes in view "
                               "(zoom in to see every box)")
            font = self._note.font()
            font.setPixelSize(max(12, self.style.min_text_px))  # lecture mode: as readable as the labels
            self._note.setFont(font)
            self._note.adjustSize()
            legend = self.legend_rect()
            legend_on_top = legend is not None and legend[0] < self.width() / 2 and legend[1] < self.height() / 2
            self._note.move(8, self.height() - self._note.height() - 8 if legend_on_top else 8)  # clear of it
            self._note.show()
            self.labels_item.set_note_rect(self.note_rect())
        else:
            self._note.hide()
            self.labels_item.set_note_rect(None)

    @property
    def layers(self) -> list[BoxLayer]:
        return list(self._layers)

    def label_texts(self, name: str) -> tuple[str, ...]:
        """The labels layer ``name`` asks for (what the placement pass may still shorten or hide)."""
        layer = next((x for x in self._layers if x.name == name), None)
        return tuple(getattr(layer, "labels", ()) or getattr(layer, "texts", ())) if layer is not None else ()

    def place_labels(self):
        """The label placement for the view as it is now (render.model.labels.Placement)."""
        from detviewer.render.qt.labels import place_layer_labels
        from detviewer.render.qt.style import LabelFonts

        transform = self.labels_item.deviceTransform(self.viewportTransform())
        size = self.viewport().size()
        fonts, bounds = LabelFonts(self.style), (float(size.width()), float(size.height()))
        return place_layer_labels(self._layers, transform, fonts, bounds, self.labels_item.obstacles(transform, bounds))

    def legend_rect(self) -> tuple[float, float, float, float] | None:
        """(x, y, w, h) of the legend panel in viewport pixels (the corner hiding the fewest box outlines);
        None without a legend."""
        transform = self.labels_item.deviceTransform(self.viewportTransform())
        size = self.viewport().size()
        return self.labels_item.legend_box(transform, (float(size.width()), float(size.height())))

    def item(self, name: str):
        """The graphics item drawing layer ``name`` (tests, benchmarks)."""
        return self._items[name]

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

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self._layers or self.describe is None:
            return
        p = self.view.mapSceneToView(scene_pos)
        index = self.box_at(p.x(), p.y())
        if index is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), self.describe(index), self)

    def _on_mouse_clicked(self, event: MouseClickEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        p = self.view.mapSceneToView(event.scenePos())
        self.point_clicked.emit(float(p.x()), float(p.y()))

    def image_to_widget(self, x: float, y: float) -> QPointF:
        """Widget pixel position of image point (x, y) (for tests and overlays)."""
        scene = self.view.mapViewToScene(QPointF(x, y))
        return QPointF(self.mapFromScene(scene))

    # -- layout -------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_hint()

    def _place_hint(self) -> None:
        if getattr(self, "_hint", None) is None:  # resize events arrive during GraphicsView.__init__
            return
        self._hint.setGeometry(0, 0, self.width(), self.height())
