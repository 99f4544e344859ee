"""Video controls: play/pause, seek slider, step one frame, frame counter."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

__all__ = ["VideoBar"]


class VideoBar(QWidget):
    """Emits ``play_toggled(bool)``, ``seek_requested(frame)`` and ``step_requested(+1 | -1)``."""

    play_toggled = Signal(bool)
    seek_requested = Signal(int)
    step_requested = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        icon = self.style().standardIcon
        self._play_icon = icon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icon(QStyle.StandardPixmap.SP_MediaPause)
        self.play_button = QToolButton()
        self.play_button.setIcon(self._play_icon)
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play / pause (Space)")
        self.back_button = QToolButton()
        self.back_button.setIcon(icon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.back_button.setToolTip("Previous frame")
        self.forward_button = QToolButton()
        self.forward_button.setIcon(icon(QStyle.StandardPixmap.SP_MediaSeekForward))
        self.forward_button.setToolTip("Next frame")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.label = QLabel("0 / 0")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        for w in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.play_button.toggled.connect(self._on_play_toggled)
        self.back_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.forward_button.clicked.connect(lambda: self.step_requested.emit(1))
        self.slider.sliderReleased.connect(lambda: self.seek_requested.emit(self.slider.value()))
        self.slider.actionTriggered.connect(self._on_slider_action)

    def set_length(self, frames: int) -> None:
        self.slider.setRange(0, max(0, frames - 1))

    def set_position(self, frame: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(frame)
            self.slider.blockSignals(False)
        self.label.setText(f"{frame + 1} / {self.slider.maximum() + 1}")

    def set_playing(self, playing: bool) -> None:
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
        self.play_button.blockSignals(False)

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
        self.play_toggled.emit(playing)

    def _on_slider_action(self, action: int) -> None:
        # Clicks on the groove (page steps) seek at once; dragging seeks on release.
        if action in (QSlider.SliderAction.SliderPageStepAdd, QSlider.SliderAction.SliderPageStepSub):
            self.seek_requested.emit(self.slider.sliderPosition())
