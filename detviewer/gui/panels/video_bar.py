"""Video controls: play/pause, seek slider, step one frame, frame counter."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QStyleOptionSlider, QToolButton, QWidget

__all__ = ["SeekSlider", "VideoBar"]


class SeekSlider(QSlider):
    """A horizontal slider whose groove jumps to the clicked frame (not one page step towards it) and says so
    through ``clicked(frame)``; the handle drags as usual."""

    clicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        style = self.style()
        point = event.position().toPoint()
        on_handle = style.hitTestComplexControl(QStyle.ComplexControl.CC_Slider, option, point,
                                                self) == QStyle.SubControl.SC_SliderHandle
        if event.button() != Qt.MouseButton.LeftButton or on_handle or self.maximum() <= self.minimum():
            super().mousePressEvent(event)
            return
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        value = QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                               point.x() - groove.x() - handle.width() // 2, max(span, 1),
                                               option.upsideDown)
        self.setValue(value)
        event.accept()
        self.clicked.emit(value)


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
        self.slider = SeekSlider()
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
        # A groove click, the keyboard or the wheel seek at once (set_position blocks signals); a drag on release.
        self.slider.valueChanged.connect(self._on_value_changed)

    def _on_value_changed(self, value: int) -> None:
        if not self.slider.isSliderDown():
            self.seek_requested.emit(value)

    def set_length(self, frames: int) -> None:
        self.slider.blockSignals(True)  # a new length is no seek
        self.slider.setRange(0, max(0, frames - 1))
        self.slider.blockSignals(False)

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
