"""Lecture mode: full screen, thick lines and large text, panels hidden but a slim step bar with the
caption, the stream frozen, and Right/Left/Space/PageDown/PageUp stepping the current view's steps.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolBar, QWidget

from detviewer.render.qt.primitive_items import LECTURE, RenderStyle

__all__ = ["LectureMode", "LECTURE_STYLE", "StepBar"]

LECTURE_STYLE = LECTURE


class StepBar(QWidget):
    """One line at the bottom: "Step 3/5 · Level 3" and the caption, in large high-contrast text."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_step_bar")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#lecture_step_bar { background: #000000; }"
                           "QLabel { color: #ffffff; font-size: 22px; padding: 6px 10px; }")
        self.step = QLabel("")
        self.step.setStyleSheet("color: #ffe600; font-weight: bold;")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.step)
        layout.addWidget(self.caption, 1)

    def show_step(self, step: int, count: int, label: str, caption: str) -> None:
        where = f"{step + 1}/{count}" if count > 1 else ""
        self.step.setText(" · ".join(x for x in (where, label) if x))
        self.caption.setText(caption)


class LectureMode(QObject):
    """Enter / leave lecture mode on ``window`` (canvas, docks, feed, views controller)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.active = False
        self.bar = StepBar()
        self.bar.hide()
        window._central_layout.addWidget(self.bar)
        self._saved: dict = {}
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        self._escape.setEnabled(False)
        self._escape.activated.connect(self.leave)

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self) -> None:
        if self.active:
            return
        w = self.window
        self.active = True
        self._saved = {
            "docks": [(dock, dock.isVisible()) for dock in w.docks],
            "menu": w.menuBar().isVisible(), "status": w.statusBar().isVisible(),
            "state": w.windowState(), "background": w.canvas.backgroundBrush().color(),
            "playing": w.feed.playing,
            "toolbars": [(bar, bar.isVisible()) for bar in w.findChildren(QToolBar)],
        }
        if w.feed.playing:
            w.feed.play(False)  # freeze the frame: a webcam image the lecturer can talk about
        for dock, _ in self._saved["docks"]:
            dock.hide()
        for bar, _ in self._saved["toolbars"]:
            bar.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        w.video_bar.hide()
        w.canvas.setBackground(QColor(0, 0, 0))
        w.canvas.set_style(LECTURE_STYLE)
        self.bar.show()
        self._escape.setEnabled(True)
        w.showFullScreen()
        self.refresh()

    def leave(self) -> None:
        if not self.active:
            return
        w, saved = self.window, self._saved
        self.active = False
        self._escape.setEnabled(False)
        self.bar.hide()
        w.canvas.set_style(RenderStyle())
        w.canvas.setBackground(saved["background"])
        for dock, visible in saved["docks"]:
            dock.setVisible(visible)
        for bar, visible in saved["toolbars"]:
            bar.setVisible(visible)
        w.menuBar().setVisible(saved["menu"])
        w.statusBar().setVisible(saved["status"])
        w.setWindowState(saved["state"])
        w._on_source_changed(w.feed.source)  # the video bar where the source has one

    def refresh(self, *_args) -> None:
        if self.active:
            self.bar.show_step(*self.window.views.step_info())

    def handle_key(self, name: str) -> bool:
        """Routed key ``name`` (menus.ROUTED_KEYS): True when it stepped the current view.

        In lecture mode every key steps (Space = forward, for presenter clickers); outside it the
        teaching views step too, while the NMS views keep the window's own meaning of the keys.
        """
        views = self.window.views
        if not self.active and views.view in ("detections", "nms"):
            return False
        if self.active and views.view == "detections":
            return True  # nothing to step; do not change the frozen frame either
        if name in ("forward", "play"):
            views.step(1)
        elif name == "back":
            views.step(-1)
        elif name == "start":
            views.set_step(0)
        elif name == "end":
            views.set_step(10**6)
        self.refresh()
        return True
