"""Charts of an A / B comparison (``evaluation.compare``): per-class Δ bars (AP, AP50, recall) and both TIDE
error breakdowns side by side, as pyqtgraph widgets; ``export_compare_plots`` writes them for ``compare --plots``."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from detviewer.charts.axis_labels import RowLabels, elide_middle
from detviewer.charts.export import export_chart, plots_folder
from detviewer.charts.matrix import bar_rows_height, fit_left_axis
from detviewer.evaluation.errors import ERROR_NAMES, ERROR_TYPES

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
    from PySide6.QtWidgets import QWidget

    from detviewer.evaluation.compare import ClassDeltas, ComparisonSnapshot
    from detviewer.evaluation.tide import TideResult

__all__ = ["ClassDeltaChart", "ErrorsCompareChart", "export_compare_plots", "SIDE_COLORS"]

#: A and B in every comparison chart (and, by convention, the window's two box styles).
SIDE_COLORS = ((31, 119, 180), (255, 127, 14))
_DELTA_SERIES = (("ΔAP", "d_ap", (31, 119, 180)), ("ΔAP50", "d_ap50", (44, 160, 44)), ("Δrecall", "d_recall",
                                                                                        (148, 103, 189)))


def _bar_group(plot: pg.PlotItem, y: np.ndarray, values: Sequence[np.ndarray], colors: Sequence[tuple[int, int, int]],
               names: Sequence[str], height: float) -> None:
    """Horizontal bars: series s of row r at y[r] + offset s, one BarGraphItem per series (with a legend entry)."""
    n = len(values)
    for s, (v, color, name) in enumerate(zip(values, colors, names)):
        offset = (s - (n - 1) / 2) * height
        item = pg.BarGraphItem(x0=0, y=y + offset, height=height * 0.9, width=np.nan_to_num(v),
                               brush=pg.mkBrush(color), pen=None, name=name)
        plot.addItem(item)


class ClassDeltaChart(pg.PlotWidget):
    """Per class: ΔAP, ΔAP50 and Δrecall (B - A) as grouped horizontal bars; a click on a class's row emits
    ``class_clicked(class index)``. Classes without ground truth have no bars."""

    class_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.showGrid(x=True, alpha=0.2)
        plot.setLabel("bottom", "B - A")
        plot.getAxis("bottom").enableAutoSIPrefix(False)  # deltas of 0.05 read as 0.05, not "50 (x0.001)"
        self.row_labels = RowLabels(plot, "left", 18)
        self.setMinimumHeight(bar_rows_height(6))
        self._count = 0
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_deltas(self, classes: ClassDeltas, class_names: Sequence[str], names: tuple[str, str] = ("A", "B")) -> None:
        """classes: a ``compare.ClassDeltas``; class_names (K,)."""
        plot = self.getPlotItem()
        plot.clear()
        plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self._count = len(class_names)
        y = np.arange(self._count, dtype=float)
        values = [getattr(classes, attr) for _, attr, _ in _DELTA_SERIES]
        _bar_group(plot, y, values, [c for *_, c in _DELTA_SERIES], [n for n, *_ in _DELTA_SERIES], 0.27)
        plot.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen("k", width=1)))
        labels = [str(n) for n in class_names]
        fit_left_axis(plot, [n[:18] for n in labels])
        finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(1)])
        reach = max(float(np.abs(finite).max()), 0.05) * 1.15
        plot.setXRange(-reach, reach, padding=0)
        plot.setYRange(-0.6, max(self._count, 1) - 0.4, padding=0)
        self.row_labels.set(y.tolist(), labels)
        a, b = (html.escape(elide_middle(n, 22)) for n in names)
        plot.setTitle(f"Per class: {b} − {a}", size="9pt")  # short: a title wider than the chart clips it
        self.setToolTip(f"Per class, {names[1]} − {names[0]}: AP and AP50 over all scores, recall at each side's "
                        f"score threshold")

    def class_at(self, y: float) -> int | None:
        row = int(np.floor(y + 0.5))
        return row if 0 <= row < self._count else None

    def _on_click(self, event: MouseClickEvent) -> None:
        vb = self.getPlotItem().vb
        if vb.sceneBoundingRect().contains(event.scenePos()):
            row = self.class_at(vb.mapSceneToView(event.scenePos()).y())
            if row is not None:
                self.class_clicked.emit(row)


class ErrorsCompareChart(pg.PlotWidget):
    """TIDE's error breakdown of A and B side by side: dAP per error type (and the special FP / FN errors)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.showGrid(x=True, alpha=0.2)
        plot.setLabel("bottom", "dAP (AP points gained if fixed)")
        self.row_labels = RowLabels(plot, "left")
        self.setMinimumHeight(bar_rows_height(9))

    def set_results(self, tide_a: TideResult, tide_b: TideResult, names: tuple[str, str] = ("A", "B")) -> None:
        plot = self.getPlotItem()
        plot.clear()
        plot.addLegend(offset=(-5, -5), labelTextSize="8pt")
        values = [np.array([t.main_dap[e] for e in ERROR_TYPES] + [t.fp_dap, t.fn_dap]) for t in (tide_a, tide_b)]
        labels = [f"{n} ({tide_a.counts[t]} / {tide_b.counts[t]})" for n, t in zip(ERROR_NAMES, ERROR_TYPES)]
        labels += ["false positives", "false negatives"]
        y = np.arange(len(labels), dtype=float) + np.r_[np.zeros(6), np.full(2, 0.5)]
        legend = [f"{elide_middle(names[0], 22)}: AP {tide_a.ap:.1f}", f"{elide_middle(names[1], 22)}: AP {tide_b.ap:.1f}"]
        _bar_group(plot, y, values, SIDE_COLORS, legend, 0.38)
        fit_left_axis(plot, labels)
        plot.setXRange(0, max(float(np.max(values)), 1.0) * 1.15, padding=0)
        plot.setYRange(-0.6, float(y[-1]) + 0.6, padding=0)
        self.row_labels.set(y.tolist(), labels)
        plot.setTitle(f"TIDE errors at IoU {tide_a.iou_threshold:g} (counts A / B)", size="9pt")
        self.setToolTip(f"TIDE error breakdown: A = {names[0]}, B = {names[1]}")


def export_compare_plots(snapshot: ComparisonSnapshot, out_dir: str | os.PathLike, suffix: str = ".png") -> list[Path]:
    """The per-class Δ chart and the side-by-side error breakdown of a ``ComparisonSnapshot`` into ``out_dir``:
    ``class_deltas``, ``error_breakdown_ab``."""
    out = plots_folder(out_dir)
    deltas = ClassDeltaChart()
    deltas.set_deltas(snapshot.classes, snapshot.comparison.class_names, snapshot.names)
    errors = ErrorsCompareChart()
    errors.set_results(snapshot.tide_a, snapshot.tide_b, snapshot.names)
    return [export_chart(deltas, out / f"class_deltas{suffix}"),
            export_chart(errors, out / f"error_breakdown_ab{suffix}")]
