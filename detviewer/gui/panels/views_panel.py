"""The "View" dock: which teaching view the canvas shows, its small controls, caption and table."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSlider, QSpinBox, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from detviewer.render.model.registry import VIEWS

__all__ = ["ViewsPanel", "VIEW_TITLES", "view_needs"]

#: Every view the window offers, in menu order: name -> title.
VIEW_TITLES: dict[str, str] = {"detections": "Detections", "nms": "NMS step by step",
                               **{name: spec.title for name, spec in VIEWS.items()}}


def view_needs(name: str) -> str:
    """The Detector capability view ``name`` needs ("" for none)."""
    spec = VIEWS.get(name)
    return spec.needs if spec is not None else ""


class ViewsPanel(QWidget):
    """Emits what the user picks; the ViewController draws. Controls irrelevant to a view are hidden."""

    view_changed = Signal(str)
    options_changed = Signal(dict)  # {"level": int | None, "top_k": int, "color_by": str}
    step_requested = Signal(int)  # +1 / -1

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        for name, title in VIEW_TITLES.items():
            self.combo.addItem(title, name)
        self.level = QSpinBox()
        self.level.setRange(-1, 16)
        self.level.setSpecialValueText("all")
        self.level.setValue(-1)
        self.top_k = QSlider(Qt.Orientation.Horizontal)
        self.top_k.setRange(1, 1000)
        self.top_k.setValue(100)
        self.top_k_label = QLabel("100")
        self.color_by = QComboBox()
        self.color_by.addItems(["auto", "objectness", "level", "label"])
        self.back = QPushButton("◀")
        self.forward = QPushButton("▶")
        self.step_label = QLabel("")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 2)
        self.table.horizontalHeader().hide()
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)

        form = QFormLayout()
        form.addRow("View", self.combo)
        self._level_row = (QLabel("Level / scale"), self.level)
        form.addRow(*self._level_row)
        top_k_row = QHBoxLayout()
        top_k_row.addWidget(self.top_k, 1)
        top_k_row.addWidget(self.top_k_label)
        self._top_k_widget = QWidget()
        self._top_k_widget.setLayout(top_k_row)
        top_k_row.setContentsMargins(0, 0, 0, 0)
        self._top_k_row = (QLabel("Top K"), self._top_k_widget)
        form.addRow(*self._top_k_row)
        self._color_row = (QLabel("Colour by"), self.color_by)
        form.addRow(*self._color_row)
        steps = QHBoxLayout()
        steps.addWidget(self.back)
        steps.addWidget(self.step_label, 1)
        steps.addWidget(self.forward)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(steps)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)

        self.combo.currentIndexChanged.connect(lambda _i: self._on_view_changed())
        self.level.valueChanged.connect(lambda _v: self._emit_options())
        self.top_k.valueChanged.connect(self._on_top_k_changed)
        self.color_by.currentTextChanged.connect(lambda _t: self._emit_options())
        self.back.clicked.connect(lambda: self.step_requested.emit(-1))
        self.forward.clicked.connect(lambda: self.step_requested.emit(1))
        self._show_controls("detections")

    # -- state ------------------------------------------------------------------------------
    @property
    def view(self) -> str:
        return self.combo.currentData()

    def options(self) -> dict:
        level = self.level.value()
        return {"level": None if level < 0 else level, "top_k": self.top_k.value(),
                "color_by": self.color_by.currentText()}

    def set_view(self, name: str) -> None:
        index = self.combo.findData(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def set_capabilities(self, capabilities) -> None:
        """Enable only the views this model can show (Detector.capabilities); fall back to detections."""
        model = self.combo.model()
        for i in range(self.combo.count()):
            needs = view_needs(self.combo.itemData(i))
            model.item(i).setEnabled(not needs or needs in capabilities)
        if not model.item(self.combo.currentIndex()).isEnabled():
            self.set_view("detections")

    def is_enabled(self, name: str) -> bool:
        index = self.combo.findData(name)
        return index >= 0 and self.combo.model().item(index).isEnabled()

    def show_frame(self, caption: str, table, step: int, step_count: int, step_label: str) -> None:
        self.caption.setText(caption)
        self.table.setRowCount(len(table))
        for row, (key, value) in enumerate(table):
            self.table.setItem(row, 0, QTableWidgetItem(str(key)))
            self.table.setItem(row, 1, QTableWidgetItem(str(value)))
        self.table.resizeRowsToContents()
        self.step_label.setText(f"Step {step + 1}/{step_count}: {step_label}" if step_count > 1 else step_label)
        self.back.setEnabled(step > 0)
        self.forward.setEnabled(step < step_count - 1)

    # -- slots ------------------------------------------------------------------------------
    def _on_view_changed(self) -> None:
        self._show_controls(self.view)
        self.view_changed.emit(self.view)

    def _on_top_k_changed(self, value: int) -> None:
        self.top_k_label.setText(str(value))
        self._emit_options()

    def _emit_options(self) -> None:
        self.options_changed.emit(self.options())

    def _show_controls(self, view: str) -> None:
        for widget in self._level_row:
            widget.setVisible(view in ("anchors", "default-boxes"))
        for widget in self._top_k_row:
            widget.setVisible(view in ("proposals", "selective-search"))
        for widget in self._color_row:
            widget.setVisible(view == "anchors")
