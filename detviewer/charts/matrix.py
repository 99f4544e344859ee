"""Confusion-matrix chart (counts or column-normalised, background row and column) and the TIDE error
breakdown bar chart, as pyqtgraph widgets. A click on a matrix cell emits ``cell_clicked(predicted, true)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from detviewer.charts.axis_labels import RowLabels
from detviewer.evaluation.confusion import ConfusionMatrix
from detviewer.evaluation.errors import ERROR_NAMES, ERROR_TYPES
from detviewer.evaluation.tide import TideResult

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
    from PySide6.QtWidgets import QWidget

__all__ = ["ConfusionChart", "ErrorsChart", "MAX_CELL_TEXTS", "MAX_CHART_CLASSES", "bar_rows_height", "fit_left_axis"]

#: Above this many classes the cells carry no numbers (they would not fit).
MAX_CELL_TEXTS = 30
#: Above this many classes the chart shows the busiest ones (most counts in their row and column) and background.
MAX_CHART_CLASSES = 100


def bar_rows_height(rows: int, row_px: int = 17, frame_px: int = 95) -> int:
    """The least height (pixels) at which ``rows`` rows of a bar chart keep one line of label each, with its
    title and bottom axis."""
    return rows * row_px + frame_px


def fit_left_axis(plot: pg.PlotItem, labels: Sequence[str]) -> None:
    """Widen the left axis so that its tick labels are not dropped (pyqtgraph hides what does not fit)."""
    longest = max((len(t) for t in labels), default=4)
    plot.getAxis("left").setWidth(int(12 + 7 * min(longest, 24)))


class ConfusionChart(pg.PlotWidget):
    """Rows: predicted class, columns: true class (Ultralytics' [predicted, true]), last = background."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [(255, 255, 255), (8, 69, 148)]))
        self.addItem(self.image)
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setAspectLocked(False)  # fill the panel: a dock is wide and short
        plot.setLabel("bottom", "true")
        plot.setLabel("left", "predicted")
        self.row_labels, self.column_labels = RowLabels(plot, "left", 14), RowLabels(plot, "bottom", 14)
        self._texts: list = []
        self._size = 0
        self._classes = np.zeros(0, np.int64)  # the class index (K: background) of each row and column shown
        self.image.mouseClickEvent = self._on_image_click

    def set_matrix(self, matrix: ConfusionMatrix, class_names: Sequence[str], normalized: bool = True) -> None:
        """Show ``matrix``: every class up to MAX_CHART_CLASSES, else the busiest MAX_CHART_CLASSES (and background)."""
        k = matrix.num_classes
        self._classes = np.arange(k + 1) if k <= MAX_CHART_CLASSES else matrix.busiest(MAX_CHART_CLASSES)
        counts = matrix.dense(self._classes)
        values = matrix.normalized(self._classes) if normalized else counts.astype(np.float64)
        self._size = values.shape[0]
        top = float(values.max()) if values.size and values.max() > 0 else 1.0
        self.image.setImage(values, levels=(0.0, top))
        self.image.setRect(-0.5, -0.5, self._size, self._size)
        names = [str(class_names[i]) if i < k else "background" for i in self._classes.tolist()]
        plot = self.getPlotItem()
        fit_left_axis(plot, [n[:14] for n in names])
        for item in self._texts:
            plot.removeItem(item)
        self._texts = []
        if self._size <= MAX_CELL_TEXTS + 1:
            for (row, col), v in np.ndenumerate(values):
                if counts[row, col] == 0:
                    continue
                text = f"{v:.2f}" if normalized else str(int(counts[row, col]))
                color = "w" if v > 0.55 * top else "k"
                item = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                item.setPos(col, row)
                plot.addItem(item)
                self._texts.append(item)
        kind = "normalised by true class" if normalized else "counts"
        shown = f", the {MAX_CHART_CLASSES} busiest of {k} classes" if k > MAX_CHART_CLASSES else ""
        plot.setTitle(f"Confusion ({kind}{shown}), score > {matrix.score_threshold:.2f}, "
                      f"IoU > {matrix.iou_threshold:g}", size="9pt")
        plot.setXRange(-0.5, self._size - 0.5, padding=0)
        plot.setYRange(-0.5, self._size - 0.5, padding=0)
        self.row_labels.set(range(len(names)), names)
        self.column_labels.set(range(len(names)), names)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(predicted, true) class indices of the cell at view coordinates (x: true, y: predicted), or None."""
        col, row = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if 0 <= row < self._size and 0 <= col < self._size:
            return int(self._classes[row]), int(self._classes[col])
        return None

    def _on_image_click(self, event: MouseClickEvent) -> None:
        pos = self.image.mapToView(event.pos())
        cell = self.cell_at(pos.x(), pos.y())
        if cell is not None:
            event.accept()
            self.cell_clicked.emit(*cell)


class ErrorsChart(pg.PlotWidget):
    """TIDE's main errors (dAP of classification, localisation, both, duplicate, background, missed)
    and its special errors (FP, FN) as horizontal bars, in AP points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setLabel("bottom", "dAP (AP points gained if fixed)")
        plot.showGrid(x=True, alpha=0.2)
        self.row_labels = RowLabels(plot, "left")
        self.setMinimumHeight(bar_rows_height(9))

    def set_result(self, tide: TideResult) -> None:
        plot = self.getPlotItem()
        plot.clear()
        values = [tide.main_dap[t] for t in ERROR_TYPES] + [tide.fp_dap, tide.fn_dap]
        names = [f"{n} ({tide.counts[t]})" for n, t in zip(ERROR_NAMES, ERROR_TYPES)] + ["false positives",
                                                                                           "false negatives"]
        colors = [(214, 39, 40), (255, 127, 14), (148, 103, 189), (140, 86, 75), (127, 127, 127), (31, 119, 180),
                  (60, 60, 60), (60, 60, 60)]
        y = np.arange(len(values), dtype=float) + np.r_[np.zeros(6), np.full(2, 0.5)]
        for yi, v, c in zip(y, values, colors):
            plot.addItem(pg.BarGraphItem(x0=0, y=[yi], height=0.7, width=[v], brush=pg.mkBrush(c), pen=None))
            text = pg.TextItem(f"{v:.2f}", color="k", anchor=(0, 0.5))
            text.setPos(v, yi)
            plot.addItem(text)
        fit_left_axis(plot, names)
        plot.setXRange(0, max(max(values), 1.0) * 1.2, padding=0)
        plot.setYRange(-0.6, float(y[-1]) + 0.6, padding=0)
        self.row_labels.set(y.tolist(), names)
        plot.setTitle(f"TIDE errors at IoU {tide.iou_threshold:g}: AP {tide.ap:.1f}", size="9pt")
