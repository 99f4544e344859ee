"""Category tick labels that stay readable: elided in the middle to fit, every n-th one where the rows (or
columns) are closer than a line of text, re-fitted whenever the chart is resized.

pyqtgraph draws every tick label of the first level wherever it falls, so eight error types in a short dock
print on top of each other; ``RowLabels`` keeps what fits and says the rest in each label's full name
(the chart's tooltip lists them all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

__all__ = ["RowLabels", "elide_middle"]


def elide_middle(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters with "…" in the middle (start and end are what tell files and
    class names apart): elide_middle("shapes_0123_end.png", 11) == "shape…d.png"."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return "…"[:max_chars]
    keep = max_chars - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]


class RowLabels:
    """The tick labels of one axis ("left" or "bottom") of ``plot`` at integer-spaced positions."""

    def __init__(self, plot: pg.PlotItem, axis: str, max_chars: int = 24) -> None:
        self.plot, self.axis_name, self.max_chars = plot, axis, max_chars
        self.positions: list[float] = []
        self.labels: list[str] = []
        self.shown: list[tuple[float, str]] = []
        if axis in ("top", "bottom"):  # pyqtgraph hides a label reaching past the axis' end: the first column's
            plot.getAxis(axis).setStyle(hideOverlappingLabels=False)
        plot.vb.sigResized.connect(self.fit)

    def set(self, positions: Sequence[float], labels: Sequence[str]) -> None:
        self.positions, self.labels = [float(p) for p in positions], [str(t) for t in labels]
        self.fit()

    def fit(self, *_args: object) -> None:
        """Thin and elide the labels for the plot's present size."""
        axis = self.plot.getAxis(self.axis_name)
        n = len(self.labels)
        if not n:
            axis.setTicks([[]])
            self.shown = []
            return
        metrics = QFontMetricsF(axis.style.get("tickFont") or axis.font())
        vertical = self.axis_name in ("left", "right")
        extent = self.plot.vb.height() if vertical else self.plot.vb.width()
        if extent <= 1:  # not laid out yet (a chart exported or never shown): every label, refitted on resize
            self.shown = [(p, elide_middle(t, self.max_chars)) for p, t in zip(self.positions, self.labels)]
            axis.setTicks([self.shown])
            return
        low, high = self.plot.vb.viewRange()[1 if vertical else 0]
        per_row = extent / max(high - low, 1e-9)  # pixels between neighbouring positions
        line = metrics.height() + 1 if vertical else metrics.averageCharWidth() * 4
        step = max(1, math.ceil(line / max(per_row, 1e-9)))
        chars = self.max_chars if vertical else max(3, int(per_row * step / metrics.averageCharWidth()) - 1)
        chars = min(chars, self.max_chars)
        self.shown = [(p, elide_middle(t, chars)) for p, t in list(zip(self.positions, self.labels))[::step]]
        axis.setTicks([self.shown])
