"""Lecture mode: full screen, thick lines and large text, the docks hidden, the stream frozen, and a bar
at the bottom with the view's step and caption in large, high-contrast text (the same step text as the
View dock and the NMS panel). The keys step the view as everywhere (gui.stepping); Escape leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QToolBar, QWidget

from detviewer.render.qt.style import LECTURE, RenderStyle

if TYPE_CHECKING:
    from detviewer.gui.canvas import Canvas
    from detviewer.gui.feed import Feed
    from detviewer.gui.presenter import Shown, ViewPresenter

__all__ = ["LectureMode", "StepBar", "BAR_BACKGROUND", "BAR_TEXT", "BAR_STEP_TEXT"]

BAR_BACKGROUND = "#000000"
BAR_TEXT = "#ffffff"  # 21:1 on black
BAR_STEP_TEXT = "#ffe600"  # 17.6:1 on black
BAR_FONT_PX = 28


class StepBar(QWidget):
    """One band at the bottom: "Step 3 of 5: Level 3" and the caption, in large high-contrast text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_step_bar")
        # Without WA_StyledBackground a plain QWidget ignores its style sheet's background.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"#lecture_step_bar {{ background: {BAR_BACKGROUND}; }}"
                           f"QLabel {{ color: {BAR_TEXT}; background: {BAR_BACKGROUND}; font-size: {BAR_FONT_PX}px;"
                           " padding: 8px 14px; }")
        self.step = QLabel("")
        self.step.setStyleSheet(f"color: {BAR_STEP_TEXT}; font-weight: bold;")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.step, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.caption, 1)

    def display(self, shown: Shown) -> None:
        self.step.setText(shown.position_text)
        self.step.setVisible(bool(shown.position_text))
        self.caption.setText(shown.caption)
        if self.isVisible():  # hidden outside lecture mode: showEvent fits it
            self._fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()

    def _fit(self) -> None:
        """As tall as the wrapped caption needs: a caption never loses its last line."""
        step_width = self.step.sizeHint().width() if self.step.isVisible() else 0
        width = self.caption.width() if self.caption.width() > 100 else max(200, self.width() - step_width)
        self.setMinimumHeight(max(self.caption.heightForWidth(width), self.step.sizeHint().height()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def caption_fits(self) -> bool:
        """The caption's wrapped text fits in the height it got (the lecture test checks it)."""
        return self.caption.height() >= self.caption.heightForWidth(self.caption.width())


class LectureMode(QObject):
    """Enter / leave lecture mode in ``host`` (its docks, tool bars, menu and status bar); canvas, presenter and feed:
    what it draws and freezes; video_bar: hidden while it lasts; on_leave: shows the source's controls again.
    The step ``bar`` is laid out by the window (under the canvas); ``active_changed(on)`` after entering / leaving."""

    active_changed = Signal(bool)

    def __init__(self, host: QMainWindow, canvas: Canvas, presenter: ViewPresenter, feed: Feed,
                 video_bar: QWidget, on_leave: Callable[[], None]) -> None:
        super().__init__(host)
        self.host, self.canvas, self.presenter, self.feed = host, canvas, presenter, feed
        self.video_bar, self._on_leave = video_bar, on_leave
        self.active = False
        self.bar = StepBar()
        self.bar.hide()
        self._saved: dict = {}
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), host)
        self._escape.setEnabled(False)
        self._escape.activated.connect(self.leave)
        presenter.shown_changed.connect(self.bar.display)

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self, full_screen: bool = True) -> None:
        """Hide the docks, thicken lines and text, show the step bar; full_screen: fill the screen (F11)."""
        if self.active:
            return
        w, canvas = self.host, self.canvas
        self.active = True
        self._saved = {
            "docks": [(dock, dock.isVisible()) for dock in w.findChildren(QDockWidget)],
            "menu": w.menuBar().isVisible(), "status": w.statusBar().isVisible(),
            "state": w.windowState(), "background": canvas.backgroundBrush().color(),
            "toolbars": [(bar, bar.isVisible()) for bar in w.findChildren(QToolBar)],
        }
        if self.feed.playing:
            self.feed.play(False)  # freeze the frame: a webcam image the lecturer can talk about
        for dock, _ in self._saved["docks"]:
            dock.hide()
        for bar, _ in self._saved["toolbars"]:
            bar.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        self.video_bar.hide()
        canvas.setBackground(QColor(0, 0, 0))
        canvas.set_style(LECTURE)
        self.bar.display(self.presenter.shown)
        self.bar.show()
        self._escape.setEnabled(True)
        if full_screen:
            w.showFullScreen()
        self.active_changed.emit(True)

    def leave(self) -> None:
        if not self.active:
            return
        w, saved = self.host, self._saved
        self.active = False
        self._escape.setEnabled(False)
        self.bar.hide()
        self.canvas.set_style(RenderStyle())
        self.canvas.setBackground(saved["background"])
        for dock, visible in saved["docks"]:
            dock.setVisible(visible)
        for bar, visible in saved["toolbars"]:
            bar.setVisible(visible)
        w.menuBar().setVisible(saved["menu"])
        w.statusBar().setVisible(saved["status"])
        w.setWindowState(saved["state"])
        self._on_leave()
        self.active_changed.emit(False)
