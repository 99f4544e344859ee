"""Lecture mode's table: the shown view's (key, value) rows beside the canvas in large light text on black, fitted
and painted by the slide's own code (render.qt.slide, ``detviewer render --slide``), so that what a caption refers
to is on the screen. Rows that do not fit are left out with "+ N more rows not shown"; a row the caption cites is
never one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QWidget

from detviewer.render.qt.slide import TABLE_PX, fit_table_rows, more_rows_note, paint_table

if TYPE_CHECKING:
    from detviewer.gui.presenter import Shown

__all__ = ["LectureTable", "LectureStage", "TABLE_SHARE", "MIN_TABLE_WIDTH"]

TABLE_SHARE = 0.36  # of the canvas row's width (a 4:3 frame keeps its full height at 1920×1080)
MIN_TABLE_WIDTH = 320
_PAD = 24.0  # left and top margin inside the column (the slide's row shading reaches 8 px to the left)


class LectureTable(QWidget):
    """The rows of the shown ViewFrame's ``table``; ``display(shown)`` follows the presenter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_table")
        self._rows: list[tuple[str, str]] = []
        self._caption = ""
        self._fitted: list[tuple[str, str, float]] = []
        self._left_out = 0

    def display(self, shown: Shown) -> None:
        frame = shown.frame
        self.set_rows(list(frame.table) if frame is not None else [], shown.caption)

    def set_rows(self, rows: Sequence[tuple[object, object]], caption: str = "") -> None:
        """Show ``rows`` ((key, value) pairs); ``caption``: the caption whose cited rows are never left out."""
        self._rows = [(str(key), str(value)) for key, value in rows]
        self._caption = caption
        self._refit()

    def has_rows(self) -> bool:
        return bool(self._rows)

    def shown_keys(self) -> list[str]:
        """Keys of the rows on screen, in order."""
        return [key for key, _, _ in self._fitted]

    def text_px(self) -> int:
        """Pixel size of its text (the slide's table size)."""
        return TABLE_PX

    def note(self) -> str:
        """The line under a cut table ("" when every row is shown)."""
        return more_rows_note(self._left_out) if self._left_out else ""

    def _table_rect(self) -> QRectF:
        return QRectF(_PAD, _PAD, max(1.0, self.width() - 2 * _PAD), max(1.0, self.height() - 2 * _PAD))

    def _refit(self) -> None:
        rect = self._table_rect()
        scratch = QImage(1, 1, QImage.Format.Format_RGB32)  # text metrics only
        painter = QPainter(scratch)
        try:
            self._fitted, self._left_out = fit_table_rows(painter, self._rows, rect.width(), rect.height(),
                                                          self._caption)
        finally:
            painter.end()
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(0, 0, 0))
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            paint_table(painter, self._fitted, self._left_out, self._table_rect())
        finally:
            painter.end()


class LectureStage(QWidget):
    """The canvas with the lecture table to its right (TABLE_SHARE of the width, at least MIN_TABLE_WIDTH).
    ``reserve(True)`` (lecture mode) keeps the table's column while it is hidden, so that the canvas, and the image
    on it, keep their size whether or not a step has rows."""

    def __init__(self, table: LectureTable, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.canvas: QWidget | None = None
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self._layout.addWidget(table)
        table.hide()

    def set_canvas(self, canvas: QWidget) -> None:
        """Put ``canvas`` to the left of the table, taking the width the table leaves."""
        self.canvas = canvas
        self._layout.insertWidget(0, canvas, 1)

    def reserve(self, on: bool) -> None:
        policy = self.table.sizePolicy()
        policy.setRetainSizeWhenHidden(on)
        self.table.setSizePolicy(policy)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.table.setFixedWidth(max(MIN_TABLE_WIDTH, int(TABLE_SHARE * event.size().width())))
        super().resizeEvent(event)
