"""Thresholds panel: score and IoU sliders, class-agnostic toggle, NMS method (and Soft-NMS σ).

It shows and changes the ViewerState's thresholds; Gaussian Soft-NMS has no IoU threshold, so the IoU
slider is disabled (with a tooltip saying why) while it is chosen.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider

from detviewer.gui.panels.views_panel import wrapping_label
from detviewer.state.events import ThresholdsChanged
from detviewer.state.viewer_state import ViewerState

__all__ = ["ThresholdsPanel"]

_METHODS = (("hard (greedy NMS)", "hard"), ("soft, linear", "linear"), ("soft, Gaussian", "gaussian"))
_IOU_TIP = "Boxes overlapping a kept box by more than this IoU are suppressed (or decayed, linear Soft-NMS)"
_NO_IOU_TIP = "Gaussian Soft-NMS has no IoU threshold: it lowers every overlapping box's score by exp(−IoU²/σ)"


def _slider(lo: float, hi: float, value: float) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setDecimals(2)
    slider.setSingleStep(0.01)
    slider.setPageStep(0.05)
    slider.setValue(value)
    return slider


class ThresholdsPanel(QWidget):
    """state: the ViewerState (its thresholds are the only copy); note_for() -> the line under the sliders for the
    model and threshold now (gui.session.threshold_note), recomputed whenever either changes."""

    def __init__(self, state: ViewerState, note_for: Callable[[], str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._note_for = note_for or (lambda: "")
        t = state.thresholds
        self.score_slider = _slider(0.0, 1.0, t.score)
        self.score_slider.setToolTip("Candidates scoring at or below this never take part in NMS")
        self.iou_slider = _slider(0.0, 1.0, t.iou)
        self.agnostic_box = QCheckBox("class-agnostic NMS")
        self.agnostic_box.setToolTip("Boxes of any class suppress each other (off: only boxes of the same class)")
        self.method_combo = QComboBox()
        for text, value in _METHODS:
            self.method_combo.addItem(text, value)
        self.sigma_slider = _slider(0.05, 2.0, t.sigma)
        self.note = wrapping_label()
        self.note.setStyleSheet("color: palette(placeholder-text);")

        form = QFormLayout(self)
        form.addRow("Score >", self.score_slider)
        self.iou_label = QLabel("IoU >")
        form.addRow(self.iou_label, self.iou_slider)
        form.addRow(self.agnostic_box)
        form.addRow("NMS", self.method_combo)
        form.addRow("σ (Gaussian)", self.sigma_slider)
        form.addRow(self.note)
        self._sync()

        # 0.01 steps, as the sliders show them (and the IoU grid replayed beforehand)
        self.score_slider.valueChanged.connect(lambda v: state.set_thresholds(score=round(float(v), 2)))
        self.iou_slider.valueChanged.connect(lambda v: state.set_thresholds(iou=round(float(v), 2)))
        self.sigma_slider.valueChanged.connect(lambda v: state.set_thresholds(sigma=round(float(v), 4)))
        self.agnostic_box.toggled.connect(lambda on: state.set_thresholds(class_agnostic=bool(on)))
        self.method_combo.currentIndexChanged.connect(
            lambda i: state.set_thresholds(method=self.method_combo.itemData(i)))
        state.subscribe(lambda event: self._sync() if isinstance(event, ThresholdsChanged) else None)

    def refresh_note(self) -> None:
        """The line under the sliders: where the score threshold came from, for the model loaded now."""
        text = self._note_for()
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _sync(self) -> None:
        t = self.state.thresholds
        widgets = (self.score_slider, self.iou_slider, self.sigma_slider, self.agnostic_box, self.method_combo)
        for widget in widgets:
            widget.blockSignals(True)
        self.score_slider.setValue(t.score)
        self.iou_slider.setValue(t.iou)
        self.sigma_slider.setValue(t.sigma)
        self.agnostic_box.setChecked(t.class_agnostic)
        self.method_combo.setCurrentIndex(self.method_combo.findData(t.method))
        for widget in widgets:
            widget.blockSignals(False)
        self.iou_slider.setEnabled(t.uses_iou)
        self.iou_label.setEnabled(t.uses_iou)
        tip = _IOU_TIP if t.uses_iou else _NO_IOU_TIP
        self.iou_slider.setToolTip(tip)
        self.iou_label.setToolTip(tip)
        self.sigma_slider.setEnabled(t.method == "gaussian")
        self.refresh_note()
