"""The legend of a view's colours (``ViewFrame.legend``): a small panel at the bottom left of the canvas or
figure, drawn by the same function in both."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter

from detviewer.render.qt.style import BOX_LABEL_PX, LabelFonts, qcolor

__all__ = ["legend_rect", "paint_legend"]

_MARGIN = 8.0


def _sizes(entries, fonts: LabelFonts) -> tuple[float, float, float]:
    """(row height, swatch side, panel width)."""
    _, metrics = fonts.font(BOX_LABEL_PX)
    row = metrics.height() + 4
    swatch = metrics.height() * 0.8
    width = max(metrics.horizontalAdvance(text) for text, _ in entries) + swatch + 3 * _MARGIN
    return row, swatch, width


def legend_rect(entries, fonts: LabelFonts, bounds: tuple[float, float]) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) of the legend panel in screen pixels, bottom left inside ``bounds``; None without entries."""
    if not entries:
        return None
    row, _, width = _sizes(entries, fonts)
    height = row * len(entries) + _MARGIN
    return _MARGIN, max(0.0, bounds[1] - height - _MARGIN), width, height


def paint_legend(painter: QPainter, entries, fonts: LabelFonts, bounds: tuple[float, float]) -> None:
    """entries: (text, (r, g, b)); painted in screen pixels (the painter's transform is ignored)."""
    rect = legend_rect(entries, fonts, bounds)
    if rect is None:
        return
    x, y, w, h = rect
    row, swatch, _ = _sizes(entries, fonts)
    font, _ = fonts.font(BOX_LABEL_PX)
    painter.save()
    painter.resetTransform()
    painter.setFont(font)
    painter.fillRect(QRectF(x, y, w, h), QColor(0, 0, 0, 200))
    for k, (text, rgb) in enumerate(entries):
        top = y + _MARGIN / 2 + k * row
        painter.fillRect(QRectF(x + _MARGIN, top + (row - swatch) / 2, swatch, swatch), qcolor(rgb))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(QRectF(x + 2 * _MARGIN + swatch, top, w, row),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    painter.restore()
