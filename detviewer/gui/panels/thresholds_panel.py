"""Thresholds panel: score and IoU sliders, class-agnostic toggle, NMS method (and Soft-NMS sigma)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QWidget
from superqt import QLabeledDoubleSlider

from detviewer.state.session import Thresholds

__all__ = ["ThresholdsPanel"]

_METHODS = (("hard (greedy NMS)", "hard"), ("soft, linear", "linear"), ("soft, gaussian", "gaussian"))


def _slider(lo: float, hi: float, value: float) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setDecimals(2)
    slider.setSingleStep(0.01)
    slider.setPageStep(0.05)
    slider.setValue(value)
    return slider


class ThresholdsPanel(QWidget):
    """Emits ``thresholds_changed(dict)`` with only the fields that changed."""

    thresholds_changed = Signal(dict)

    def __init__(self, thresholds: Thresholds = Thresholds(), parent=None) -> None:
        super().__init__(parent)
        self.score_slider = _slider(0.0, 1.0, thresholds.score)
        self.iou_slider = _slider(0.0, 1.0, thresholds.iou)
        self.agnostic_box = QCheckBox("class-agnostic NMS")
        self.agnostic_box.setToolTip("Boxes of any class suppress each other (off: only boxes of the same class)")
        self.agnostic_box.setChecked(thresholds.class_agnostic)
        self.method_combo = QComboBox()
        for text, value in _METHODS:
            self.method_combo.addItem(text, value)
        self.method_combo.setCurrentIndex(self.method_combo.findData(thresholds.method))
        self.sigma_slider = _slider(0.05, 2.0, thresholds.sigma)
        self.sigma_slider.setEnabled(thresholds.method == "gaussian")

        form = QFormLayout(self)
        form.addRow("Score ≥", self.score_slider)
        form.addRow("IoU >", self.iou_slider)
        form.addRow(self.agnostic_box)
        form.addRow("NMS", self.method_combo)
        form.addRow("σ (gaussian)", self.sigma_slider)

        self.score_slider.valueChanged.connect(lambda v: self.thresholds_changed.emit({"score": round(float(v), 4)}))
        self.iou_slider.valueChanged.connect(lambda v: self.thresholds_changed.emit({"iou": round(float(v), 4)}))
        self.sigma_slider.valueChanged.connect(lambda v: self.thresholds_changed.emit({"sigma": round(float(v), 4)}))
        self.agnostic_box.toggled.connect(lambda on: self.thresholds_changed.emit({"class_agnostic": bool(on)}))
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)

    def _on_method_changed(self, index: int) -> None:
        method = self.method_combo.itemData(index)
        self.sigma_slider.setEnabled(method == "gaussian")
        self.thresholds_changed.emit({"method": method})
