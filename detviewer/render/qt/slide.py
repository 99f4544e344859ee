"""A 1920×1080 slide: the view drawn by the window's own painting code, with its title, caption, legend and
table beside it, every text at least 24 px (``detviewer render --slide`` and ``detviewer lecture``).

Layout: a header (title, what the figure shows, slide number) across the top; the frame scaled to fit the
left part (lecture style: thick lines, 24 px labels); on the right the caption, the legend (a swatch per
colour drawn) and the table. Text that does not fit is shortened in this order: the caption's size (down to
24 px), then the table's last rows the caption does not cite ("+ n more rows not shown"): a row the caption
names is always on the slide, and no text points at a panel the slide does not have.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from detviewer.errors import DetviewerError
from detviewer.render.qt.style import RenderStyle

__all__ = ["SlideText", "SLIDE_SIZE", "MIN_TEXT_PX", "render_slide", "write_slide", "slide_layout", "figure_aspect",
           "table_fit", "cited_rows", "more_rows_note", "fit_table_rows", "paint_table", "TABLE_PX"]

SLIDE_SIZE = (1920, 1080)
MIN_TEXT_PX = 24
_MARGIN = 40.0
_GAP = 44.0
_HEADER = 132.0
_TITLE_PX, _SUBTITLE_PX, _CAPTION_PX, TABLE_PX = 42, 28, 30, MIN_TEXT_PX
_TABLE_PX = TABLE_PX  # its earlier name (tests/cli/test_lecture_cli.py)
_BACKGROUND = QColor(17, 19, 24)
_TEXT = QColor(240, 240, 240)
_MUTED = QColor(170, 182, 200)
_ACCENT = QColor(255, 214, 0)
_ROW_SHADE = QColor(255, 255, 255, 14)
_WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft) | int(Qt.AlignmentFlag.AlignTop)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class SlideText:
    """Everything written on a slide: title (the lecture's heading), subtitle (model · view · step), number
    ("12 / 31" or ""), caption (sentences), legend ((text, (r, g, b)) entries), table ((key, value) rows)."""

    title: str
    subtitle: str = ""
    number: str = ""
    caption: str = ""
    legend: tuple = ()
    table: list = field(default_factory=list)


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(int(px))
    font.setBold(bold)
    return font


def _figure_box() -> tuple[float, float]:
    """(width, height) the frame may take on the slide."""
    return 0.56 * SLIDE_SIZE[0] - _MARGIN, SLIDE_SIZE[1] - _HEADER - _MARGIN


def figure_aspect() -> float:
    """Width / height of the slide's figure area (a zoomed frame fills it best at this aspect)."""
    width, height = _figure_box()
    return width / height


def slide_layout(image_size: tuple[int, int]) -> tuple[float, QRectF, QRectF]:
    """(scale, image rect, text column rect) on the slide for a frame of (H, W) pixels: the frame as large as
    fits in the left 56 % under the header, the column beside it."""
    height, width = image_size
    slide_w = SLIDE_SIZE[0]
    box_w, box_h = _figure_box()
    scale = min(box_w / max(width, 1), box_h / max(height, 1))
    image = QRectF(_MARGIN, _HEADER, width * scale, height * scale)
    left = image.right() + _GAP
    return scale, image, QRectF(left, _HEADER, slide_w - _MARGIN - left, box_h)


def _text_height(painter: QPainter, font: QFont, width: float, text: str) -> float:
    painter.setFont(font)
    return painter.boundingRect(QRectF(0, 0, width, 10_000), _WRAP, text).height()


def _paint_header(painter: QPainter, text: SlideText) -> None:
    width = SLIDE_SIZE[0] - 2 * _MARGIN
    painter.setPen(_ACCENT)
    painter.setFont(_font(_TITLE_PX, bold=True))
    painter.drawText(QRectF(_MARGIN, 22, width - 220, 56), _LEFT, text.title)
    painter.setPen(_MUTED)
    painter.setFont(_font(_SUBTITLE_PX))
    painter.drawText(QRectF(_MARGIN, 80, width, 40), _LEFT, text.subtitle)
    painter.drawText(QRectF(_MARGIN, 22, width, 56), _RIGHT, text.number)


def _legend_height(painter: QPainter, entries: Sequence[tuple[str, tuple[int, int, int]]], width: float) -> float:
    if not entries:
        return 0.0
    font = _font(TABLE_PX)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    row, x, rows = metrics.height() + 10, 0.0, 1
    for label, _ in entries:
        item = metrics.horizontalAdvance(label) + row + 28
        if x and x + item > width:
            rows, x = rows + 1, 0.0
        x += item
    return rows * row


def _paint_legend(painter: QPainter, entries: Sequence[tuple[str, tuple[int, int, int]]], rect: QRectF) -> None:
    painter.setFont(_font(TABLE_PX))
    metrics = painter.fontMetrics()
    row = metrics.height() + 10
    swatch = metrics.height() * 0.75
    x, y = rect.left(), rect.top()
    for label, rgb in entries:
        item = metrics.horizontalAdvance(label) + row + 28
        if x > rect.left() and x + item > rect.right():
            x, y = rect.left(), y + row
        painter.fillRect(QRectF(x, y + (row - swatch) / 2, swatch, swatch), QColor(*(int(v) for v in rgb)))
        painter.setPen(_TEXT)
        painter.drawText(QRectF(x + swatch + 10, y, item, row), _LEFT, label)
        x += item


def cited_rows(rows: Sequence[tuple[object, object]], caption: str) -> set[int]:
    """Indices of the table rows ``caption`` cites: their key (less a leading "[n] " index) appears in it."""
    cited = set()
    for i, (key, _) in enumerate(rows):
        name = re.sub(r"^\[\d+\]\s*", "", str(key)).strip()
        if name and name in caption:
            cited.add(i)
    return cited


def fit_table_rows(painter: QPainter, rows: Sequence[tuple[object, object]], width: float, room: float,
                   caption: str = "") -> tuple[list[tuple[str, str, float]], int]:
    """The (key, value, height) rows that fit in ``width`` × ``room`` pixels at TABLE_PX, and how many were left
    out: the last rows the caption does not cite go first, so a row the caption names is always shown (the slide
    and the window's lecture mode, gui.lecture_table)."""
    key_w = 0.36 * width
    heights = [max(_text_height(painter, _font(TABLE_PX, bold=True), key_w - 12, str(key)),
                   _text_height(painter, _font(TABLE_PX), width - key_w, str(value))) + 10 for key, value in rows]
    note = _text_height(painter, _font(TABLE_PX), width, "+ 1 more rows") + 10
    keep = list(range(len(rows)))
    cited = cited_rows(rows, caption)
    droppable = [i for i in reversed(keep) if i not in cited] + [i for i in reversed(keep) if i in cited]
    while keep and sum(heights[i] for i in keep) + (note if len(keep) < len(rows) else 0.0) > room:
        keep.remove(droppable.pop(0))
    return [(str(rows[i][0]), str(rows[i][1]), heights[i]) for i in keep], len(rows) - len(keep)


def more_rows_note(left_out: int) -> str:
    """The line under a cut table (it names no panel: the slide is all the audience sees)."""
    return f"+ {left_out} more row{'s' if left_out > 1 else ''} not shown"


def paint_table(painter: QPainter, fitted: Sequence[tuple[str, str, float]], left_out: int, rect: QRectF) -> None:
    """Draw ``fit_table_rows``'s rows from the top of ``rect`` (light text for a dark background), then the note
    saying how many were left out."""
    key_w = 0.36 * rect.width()
    y = rect.top()
    for i, (key, value, h) in enumerate(fitted):
        if i % 2 == 0:
            painter.fillRect(QRectF(rect.left() - 8, y, rect.width() + 8, h), _ROW_SHADE)
        painter.setPen(_MUTED)
        painter.setFont(_font(TABLE_PX, bold=True))
        painter.drawText(QRectF(rect.left(), y + 5, key_w - 12, h), _WRAP, key)
        painter.setPen(_TEXT)
        painter.setFont(_font(TABLE_PX))
        painter.drawText(QRectF(rect.left() + key_w, y + 5, rect.width() - key_w, h), _WRAP, value)
        y += h
    if left_out:
        painter.setPen(_MUTED)
        painter.drawText(QRectF(rect.left(), y + 5, rect.width(), 60), _WRAP, more_rows_note(left_out))


@dataclass(frozen=True)
class _Column:
    caption_px: int
    caption_h: float
    legend_h: float
    table: QRectF
    fitted: list
    left_out: int


def _column_layout(painter: QPainter, text: SlideText, column: QRectF) -> _Column:
    width = column.width()
    legend_h = _legend_height(painter, text.legend, width)
    caption_px = _CAPTION_PX
    room = 0.45 * column.height()
    while caption_px > MIN_TEXT_PX and _text_height(painter, _font(caption_px), width, text.caption) > room:
        caption_px -= 1
    caption_h = _text_height(painter, _font(caption_px), width, text.caption) if text.caption else 0.0
    y = column.top() + caption_h + (24 if caption_h else 0)
    if legend_h:
        y += legend_h + 24
    fitted, left_out = fit_table_rows(painter, list(text.table), width, column.bottom() - y, text.caption)
    return _Column(caption_px, caption_h, legend_h, QRectF(column.left(), y, width, column.bottom() - y), fitted,
                   left_out)


def table_fit(text: SlideText, image_size: tuple[int, int]) -> tuple[list[str], int]:
    """(keys of the table rows the slide shows, how many it leaves out) for a frame of (H, W) pixels."""
    from detviewer.render.qt.export import ensure_gui_app

    ensure_gui_app()
    scratch = QImage(*SLIDE_SIZE, QImage.Format.Format_RGB32)
    painter = QPainter(scratch)
    try:
        layout = _column_layout(painter, text, slide_layout(image_size)[2])
    finally:
        painter.end()
    return [key for key, _, _ in layout.fitted], layout.left_out


def _paint_column(painter: QPainter, text: SlideText, column: QRectF) -> None:
    layout = _column_layout(painter, text, column)
    y = column.top()
    painter.setPen(_TEXT)
    painter.setFont(_font(layout.caption_px))
    painter.drawText(QRectF(column.left(), y, column.width(), layout.caption_h + 4), _WRAP, text.caption)
    y += layout.caption_h + (24 if layout.caption_h else 0)
    if layout.legend_h:
        _paint_legend(painter, text.legend, QRectF(column.left(), y, column.width(), layout.legend_h))
    paint_table(painter, layout.fitted, layout.left_out, layout.table)


def render_slide(image: np.ndarray, layers: Sequence, text: SlideText, style: RenderStyle | None = None,
                 dim: float = 0.0) -> QImage:
    """A SLIDE_SIZE QImage: ``layers`` over ``image`` (H, W, 3) uint8 RGB (original pixels) drawn by the
    figure export's painting code in ``style`` (default: lecture mode), the frame faded by ``dim``
    (ViewFrame.dim), beside ``text``; the legend goes in the text column, not over the frame."""
    from detviewer.render.qt.export import ensure_gui_app, render_image
    from detviewer.render.qt.style import LECTURE

    ensure_gui_app()
    scale, image_rect, column = slide_layout(image.shape[:2])
    figure = render_image(image, layers, scale, style or LECTURE, dim=dim)
    out = QImage(*SLIDE_SIZE, QImage.Format.Format_RGB32)  # Qt's fast paths (see render_image)
    out.fill(_BACKGROUND)
    painter = QPainter(out)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.drawImage(image_rect.topLeft(), figure)
        _paint_header(painter, text)
        _paint_column(painter, text, column)
    finally:
        painter.end()
    return out


def write_slide(path: str | os.PathLike, image: np.ndarray, layers: Sequence, text: SlideText,
                style: RenderStyle | None = None,
                dim: float = 0.0) -> Path:
    """Write ``render_slide`` to ``path`` (.png / .jpg); DetviewerError with one sentence when it cannot."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise DetviewerError(f"Cannot write the slide {path}: use a .png or .jpg file name.")
    if not path.parent.is_dir():
        raise DetviewerError(f"Cannot write the slide {path}: the folder {path.parent} does not exist.")
    from detviewer.render.qt.export import save_qimage

    return save_qimage(render_slide(image, layers, text, style, dim), path)
