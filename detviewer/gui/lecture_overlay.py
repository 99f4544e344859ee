"""A panel over the slide in lecture mode: a title and (key, text) rows in large white text on semi-opaque black,
one row optionally highlighted in yellow. Lecture mode shows its keys in it (F1); the live deck its sections.
It stays centred in its parent as the parent resizes; its text shrinks (never under MIN_PX) when the rows would
not fit the parent's height.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

__all__ = ["LectureOverlay", "OVERLAY_PX", "MIN_PX", "PANEL", "TEXT", "CURRENT"]

OVERLAY_PX = 30
MIN_PX = 24
PANEL = QColor(0, 0, 0, 235)
TEXT = QColor("#ffffff")
MUTED = QColor("#c8d2e0")  # the key column: 13:1 on black
CURRENT = QColor("#ffe600")
_MARGIN = 32  # between the panel and its parent's edges
_PAD = 36  # inside the panel
_GAP = 36  # between the key and the text columns
_ROW_GAP = 10
_WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft) | int(Qt.AlignmentFlag.AlignTop)


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    return font


class LectureOverlay(QWidget):
    """``show_rows(title, rows, current)`` shows it over ``parent``; ``hide()`` hides it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_overlay")
        self._host = parent
        self._title = ""
        self._rows: list[tuple[str, str]] = []
        self._current: int | None = None
        self._px = OVERLAY_PX
        self._key_w = 0
        self._heights: list[int] = []
        parent.installEventFilter(self)
        self.hide()

    # -- what it shows ------------------------------------------------------------------------
    def show_rows(self, title: str, rows: Sequence[tuple[str, str]], current: int | None = None) -> None:
        """Show ``title`` over (key, text) ``rows``; ``current``: the index of the row drawn in yellow."""
        self._title = str(title)
        self._rows = [(str(key), str(text)) for key, text in rows]
        self._current = current if current is not None and 0 <= current < len(self._rows) else None
        self._place()
        self.show()
        self.raise_()

    def title(self) -> str:
        return self._title

    def rows(self) -> list[tuple[str, str]]:
        return list(self._rows)

    def current(self) -> int | None:
        return self._current

    def text_px(self) -> int:
        """Pixel size of its smallest text (the rows)."""
        return self._px

    # -- layout -------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _measure(self, px: int, room_w: int) -> tuple[int, int, int, list[int]]:
        """(panel width, panel height, key column width, row heights) at text size ``px`` within ``room_w``."""
        keys, texts = QFontMetrics(_font(px, bold=True)), QFontMetrics(_font(px))
        inner = max(1, room_w - 2 * _PAD)
        key_w = min(max((keys.horizontalAdvance(k) for k, _ in self._rows), default=0), int(0.4 * inner))
        text_w = max(1, min(inner - key_w - _GAP, max((texts.horizontalAdvance(t) for _, t in self._rows), default=0)))
        heights = [max(keys.boundingRect(QRect(0, 0, key_w, 10_000), _WRAP, k).height(),
                       texts.boundingRect(QRect(0, 0, text_w, 10_000), _WRAP, t).height()) + _ROW_GAP
                   for k, t in self._rows]
        title = QFontMetrics(_font(px + 8, bold=True))
        width = max(key_w + _GAP + text_w, title.horizontalAdvance(self._title)) + 2 * _PAD
        height = title.height() + 2 * _ROW_GAP + sum(heights) + 2 * _PAD
        return min(width, room_w), height, key_w, heights

    def _place(self) -> None:
        parent = self._host
        room_w, room_h = parent.width() - 2 * _MARGIN, parent.height() - 2 * _MARGIN
        for px in range(OVERLAY_PX, MIN_PX - 1, -1):
            width, height, self._key_w, self._heights = self._measure(px, room_w)
            self._px = px
            if height <= room_h:
                break
        height = min(height, max(1, room_h))
        self.setGeometry((parent.width() - width) // 2, (parent.height() - height) // 2, width, height)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        key_w, heights = self._key_w, self._heights
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(PANEL)
            painter.drawRoundedRect(QRectF(self.rect()), 12, 12)
            painter.setPen(TEXT)
            painter.setFont(_font(self._px + 8, bold=True))
            title_h = painter.fontMetrics().height()
            painter.drawText(QRect(_PAD, _PAD, self.width() - 2 * _PAD, title_h), _WRAP, self._title)
            y = _PAD + title_h + 2 * _ROW_GAP
            text_x = _PAD + key_w + _GAP
            for i, ((key, text), h) in enumerate(zip(self._rows, heights)):
                colour = CURRENT if i == self._current else None
                painter.setPen(colour or MUTED)
                painter.setFont(_font(self._px, bold=True))
                painter.drawText(QRect(_PAD, y, key_w, h), _WRAP, key)
                painter.setPen(colour or TEXT)
                painter.setFont(_font(self._px))
                painter.drawText(QRect(text_x, y, self.width() - text_x - _PAD, h), _WRAP, text)
                y += h
        finally:
            painter.end()
