"""Lecture mode's title band over the canvas: the section in yellow and the slide's title in white, large, on
black, like a slide's title (the live deck sets it; a view outside the lecture shows its own title)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

__all__ = ["LectureHeading", "HEADING_PX"]

HEADING_PX = 34
_SECTION = "#ffe600"  # 17.6:1 on black
_TITLE = "#ffffff"


class LectureHeading(QLabel):
    """One line above the canvas, hidden outside lecture mode; its height never changes (the image never moves)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lecture_heading")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(False)
        self.setStyleSheet(f"#lecture_heading {{ background: #000000; color: {_TITLE}; font-size: {HEADING_PX}px;"
                           " font-weight: bold; padding: 10px 16px 6px 16px; }")
        self._plain = ""
        self.setText(" ")
        self.setFixedHeight(self.sizeHint().height())
        self.hide()

    def show_title(self, section: str, title: str) -> None:
        """"Section · title" (the section in yellow); an empty section shows the title alone."""
        self._plain = " · ".join(part for part in (section, title) if part)
        parts = [f'<span style="color:{_SECTION}">{html.escape(section)}</span>'] if section else []
        parts += [html.escape(title)] if title else []
        self.setText(" · ".join(parts))

    def plain_text(self) -> str:
        return self._plain
