"""Lecture mode: full screen, thick lines and large text, the docks hidden, the stream frozen, a bar at the
bottom with the view's step and caption in large, high-contrast text (the same step text as the View dock and
the NMS panel), and the view's table beside the canvas (gui.lecture_table), so that what a caption cites is on
the screen. The step keys walk the live lecture (gui.lecture_deck); the menus' keys (G, F11…) still work with the
menu bar hidden; F1 shows lecture mode's keys over the slide (gui.lecture_overlay); Esc closes that overlay, and
else leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QKeySequence, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QToolBar, QWidget

from detviewer.gui.lecture_heading import LectureHeading
from detviewer.gui.lecture_overlay import LectureOverlay
from detviewer.gui.lecture_table import LectureStage, LectureTable
from detviewer.gui.stepping import LECTURE_KEYS, STEP_KEYS
from detviewer.render.qt.style import LECTURE, RenderStyle

if TYPE_CHECKING:
    from detviewer.gui.canvas import Canvas
    from detviewer.gui.feed import Feed
    from detviewer.gui.presenter import Shown, ViewPresenter

__all__ = ["LectureMode", "StepBar", "BAR_BACKGROUND", "BAR_TEXT", "BAR_STEP_TEXT", "BAR_LINES", "MIN_CAPTION_PX",
           "KEYS_TITLE", "lecture_key_rows"]

BAR_BACKGROUND = "#000000"
BAR_TEXT = "#ffffff"  # 21:1 on black
BAR_STEP_TEXT = "#ffe600"  # 17.6:1 on black
BAR_FONT_PX = 28
MIN_CAPTION_PX = 24
BAR_LINES = 5  # the bar's height: this many caption lines at BAR_FONT_PX (6 at MIN_CAPTION_PX: ~750 characters at 1920 px)
_BAR_PAD_Y = 8  # the labels' top and bottom padding (style sheet)
KEYS_TITLE = "Lecture mode: keys"
_STILL_APPLY = ("first_step", "last_step", "play")  # STEP_KEYS that lecture mode keeps as they are


def lecture_key_rows() -> list[tuple[str, str]]:
    """(keys, what they do) of lecture mode, for the F1 overlay: LECTURE_KEYS, then the step keys that still
    apply (Home, End, P)."""
    rows = [(" / ".join(b.keys), b.description) for b in LECTURE_KEYS]
    return rows + [(" / ".join(b.keys), b.description) for b in STEP_KEYS if b.action in _STILL_APPLY]


class StepBar(QWidget):
    """One band at the bottom: "Step 3 of 5: Level 3" and the caption, in large high-contrast text. Its height
    stays BAR_LINES lines whatever the caption, so that the canvas above it (and the image) never moves: a longer
    caption is drawn smaller, down to MIN_CAPTION_PX, and only a caption that does not fit even then makes the
    bar taller (a caption never loses its last line)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_step_bar")
        # Without WA_StyledBackground a plain QWidget ignores its style sheet's background.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"#lecture_step_bar {{ background: {BAR_BACKGROUND}; }}"
                           f"QLabel {{ color: {BAR_TEXT}; background: {BAR_BACKGROUND}; font-size: {BAR_FONT_PX}px;"
                           f" padding: {_BAR_PAD_Y}px 14px; }}")
        self.step = QLabel("")
        self.step.setStyleSheet(f"color: {BAR_STEP_TEXT}; font-weight: bold;")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._caption_px = BAR_FONT_PX
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
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
        """The caption at the largest size from BAR_FONT_PX down to MIN_CAPTION_PX that fits BAR_LINES lines;
        the bar BAR_LINES lines high, or as tall as the caption needs at MIN_CAPTION_PX."""
        width = self._caption_width()
        room = self.base_height()
        need = 0
        for px in range(BAR_FONT_PX, MIN_CAPTION_PX - 1, -1):
            self._set_caption_px(px)
            need = self.caption.heightForWidth(width)
            if need <= room:
                break
        self.setFixedHeight(max(room, need, self.step.sizeHint().height()))

    def _caption_width(self) -> int:
        """The width the layout gives the caption: the bar's, less the step label's (the caption takes the rest)."""
        if self.width() <= 100:  # not laid out yet
            return max(200, self.caption.width())
        step = self.step.sizeHint().width() if not self.step.isHidden() else 0
        return max(100, self.width() - step)

    def base_height(self) -> int:
        """BAR_LINES lines of caption at BAR_FONT_PX with the labels' padding."""
        font = QFont(self.caption.font())
        font.setPixelSize(BAR_FONT_PX)
        return BAR_LINES * QFontMetrics(font).lineSpacing() + 2 * _BAR_PAD_Y + 2

    def caption_px(self) -> int:
        """The caption's text size now (BAR_FONT_PX, or smaller for a long caption; never under MIN_CAPTION_PX)."""
        return self._caption_px

    def _set_caption_px(self, px: int) -> None:
        if px != self._caption_px:
            self._caption_px = px
            self.caption.setStyleSheet(f"font-size: {px}px;")  # over the bar's QLabel rule

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def caption_fits(self) -> bool:
        """The caption's wrapped text fits in the height it got (the lecture test checks it)."""
        return self.caption.height() >= self.caption.heightForWidth(self.caption.width())


class LectureMode(QObject):
    """Enter / leave lecture mode in ``host`` (its docks, tool bars, menu and status bar); canvas, presenter and feed:
    what it draws and freezes; video_bar: hidden while it lasts; on_leave: shows the source's controls again.
    The step ``bar`` is laid out by the window (under the canvas). The ``table`` sits to the right of the canvas:
    when the canvas is in a layout, lecture mode puts a LectureStage (canvas, table) in its place. ``overlay``: the
    panel over the canvas and table (F1's keys; the live deck's overview). ``active_changed(on)`` after entering /
    leaving."""

    active_changed = Signal(bool)

    def __init__(self, host: QMainWindow, canvas: Canvas, presenter: ViewPresenter, feed: Feed,
                 video_bar: QWidget, on_leave: Callable[[], None]) -> None:
        super().__init__(host)
        self.host, self.canvas, self.presenter, self.feed = host, canvas, presenter, feed
        self.video_bar, self._on_leave = video_bar, on_leave
        self.active = False
        self.bar = StepBar()
        self.bar.hide()
        self.heading = LectureHeading()  # laid out by the window (over the canvas); the live deck sets its text
        self.table = LectureTable()
        self.stage = self._stage(canvas, self.table)
        self.table.hide()
        self.overlay = LectureOverlay(self.stage if self.stage is not None else canvas)
        self._saved: dict = {}
        self._disabled: list[QAction] = []
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), host)
        self._escape.setEnabled(False)
        self._escape.activated.connect(self.escape)
        self._keys = QShortcut(QKeySequence(Qt.Key.Key_F1), host)
        self._keys.setEnabled(False)
        self._keys.activated.connect(self.toggle_keys)
        presenter.shown_changed.connect(self._display)

    @staticmethod
    def _stage(canvas: QWidget, table: LectureTable) -> LectureStage | None:
        """The canvas's place in its parent's layout, given to a LectureStage of the canvas and the table."""
        parent = canvas.parentWidget()
        layout = parent.layout() if parent is not None else None
        if layout is None or layout.indexOf(canvas) < 0:
            return None
        stage = LectureStage(table)
        layout.replaceWidget(canvas, stage)  # first: reparenting the canvas would drop it from the layout
        stage.set_canvas(canvas)
        return stage

    def _display(self, shown: Shown) -> None:
        self.bar.display(shown)
        if self.active:  # outside lecture mode the View dock shows the table
            self.table.display(shown)
            self.table.setVisible(self.table.has_rows())

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def toggle_keys(self) -> None:
        """F1 in lecture mode: lecture mode's keys over the slide, or away again."""
        if self.overlay.isVisible() and self.overlay.title() == KEYS_TITLE:
            self.overlay.hide()
        else:
            self.overlay.show_rows(KEYS_TITLE, lecture_key_rows())

    def escape(self) -> None:
        """Esc: close the overlay if one is shown, else leave lecture mode."""
        if self.overlay.isVisible():
            self.overlay.hide()
        else:
            self.leave()

    def enter(self, full_screen: bool = True) -> None:
        """Hide the docks, thicken lines and text, show the step bar and the table; full_screen: fill the screen
        (F11)."""
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
        if self.stage is not None:
            self.stage.reserve(True)  # the table's column stays while a step has no rows: the image never moves
        self._display(self.presenter.shown)
        self.bar.show()
        self.heading.show()
        # F1 is lecture mode's own here (the keys overlay): the window's F1 action (the dialog) waits outside it
        self._disabled = [a for a in w.findChildren(QAction) if a.isEnabled()
                          and QKeySequence(Qt.Key.Key_F1) in a.shortcuts()]
        for action in self._disabled:
            action.setEnabled(False)
        self._escape.setEnabled(True)
        self._keys.setEnabled(True)
        if full_screen:
            w.showFullScreen()
        self.active_changed.emit(True)

    def leave(self) -> None:
        if not self.active:
            return
        w, saved = self.host, self._saved
        self.active = False
        self._escape.setEnabled(False)
        self._keys.setEnabled(False)
        for action in self._disabled:
            action.setEnabled(True)
        self._disabled = []
        self.overlay.hide()
        self.bar.hide()
        self.heading.hide()
        self.table.hide()
        if self.stage is not None:
            self.stage.reserve(False)
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
