"""Charts of an anchor coverage (``evaluation.coverage``): the histogram of every object's best anchor IoU with the
model's positive threshold, and the objects' width x height (log-log, model-input pixels) over the anchors' sizes
and ratios, objects under the threshold in red. A click on an object emits ``object_clicked(gt index)``;
``export_coverage_plots`` writes both for ``detviewer anchors --plots``."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtCore import Qt, Signal

from detviewer.charts.export import export_chart, plots_folder

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from detviewer.evaluation.anchor_suggestion import AnchorSuggestion
    from detviewer.evaluation.coverage import AnchorCoverage

__all__ = ["BestIouHistogram", "ObjectShapesChart", "export_coverage_plots", "UNCOVERED", "COVERED", "SUGGESTED"]

UNCOVERED, COVERED, SUGGESTED = (214, 39, 40), (31, 119, 180), (44, 160, 44)
_BINS = np.linspace(0.0, 1.0, 51)


class BestIouHistogram(pg.PlotWidget):
    """Objects per best-IoU bin (0.02 wide), bars under the threshold in red; a dashed line at the threshold;
    a suggestion's histogram as a green outline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.setLabel("bottom", "best IoU of the object with any anchor")
        plot.setLabel("left", "objects")
        plot.showGrid(y=True, alpha=0.2)

    def set_coverage(self, coverage: AnchorCoverage, suggested: AnchorCoverage | None = None) -> None:
        """coverage / suggested: ``AnchorCoverage`` of today's anchors and of a suggestion (or None)."""
        plot = self.getPlotItem()
        plot.clear()
        plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        reached = coverage.best_iou[coverage.best_iou >= 0]
        counts, _ = np.histogram(reached, _BINS)
        centres, width = (_BINS[:-1] + _BINS[1:]) / 2, _BINS[1] - _BINS[0]
        low = centres < coverage.positive_iou
        for mask, color, name in ((low, UNCOVERED, "below the threshold"), (~low, COVERED, "at or above")):
            plot.addItem(pg.BarGraphItem(x=centres[mask], height=counts[mask], width=width * 0.92,
                                         brush=pg.mkBrush(color), pen=None, name=name))
        if suggested is not None:
            again, _ = np.histogram(suggested.best_iou[suggested.best_iou >= 0], _BINS)
            plot.plot(_BINS, again, stepMode="center", pen=pg.mkPen(SUGGESTED, width=2),
                      name=f"suggested anchors: {100 * suggested.share_below:.1f}% below")
        plot.addItem(pg.InfiniteLine(coverage.positive_iou, pen=pg.mkPen("k", width=1.5, style=Qt.PenStyle.DashLine),
                                     label=f"positive >= {coverage.positive_iou:g}",
                                     labelOpts={"position": 0.92, "color": "k"}))
        plot.setXRange(0, 1, padding=0.01)
        plot.setTitle(f"{html.escape(coverage.model)}: best anchor IoU of {len(reached)} objects, "
                      f"{100 * coverage.share_below:.1f}% below {coverage.positive_iou:g}")


class ObjectShapesChart(pg.PlotWidget):
    """Objects' width x height in model-input pixels on log-log axes (red: best IoU under the threshold), with
    the anchors' shapes (black +, labelled by level) and a suggestion's (green x)."""

    object_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.setLogMode(x=True, y=True)
        plot.setLabel("bottom", "width (model-input pixels)")
        plot.setLabel("left", "height (model-input pixels)")
        plot.showGrid(x=True, y=True, alpha=0.2)
        self._gt_of_points: dict[object, np.ndarray] = {}

    def set_coverage(self, coverage: AnchorCoverage, suggested_wh: np.ndarray | None = None) -> None:
        """coverage: an ``AnchorCoverage``; suggested_wh (S, 2): a suggestion's anchor shapes, or None."""
        plot = self.getPlotItem()
        plot.clear()
        plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self._gt_of_points = {}
        reached = coverage.best_iou >= 0
        size = 7 if reached.sum() < 2000 else 4  # many objects: small dots, or they hide each other
        for mask, color, name in ((reached & ~coverage.below, COVERED, "objects covered"),
                                  (reached & coverage.below, UNCOVERED, f"below {coverage.positive_iou:g}")):
            wh = coverage.gt_wh[mask]
            item = plot.plot(wh[:, 0], wh[:, 1], pen=None, symbol="o", symbolSize=size, symbolPen=None,
                             symbolBrush=pg.mkBrush(*color, 150), name=f"{name} ({int(mask.sum())})")
            item.sigPointsClicked.connect(self._on_points_clicked)
            self._gt_of_points[item] = coverage.gt_index[mask]
        self._add_shapes(plot, coverage.anchor_wh, "k", "+", "anchors today", coverage.anchor_level)
        if suggested_wh is not None and len(suggested_wh):
            self._add_shapes(plot, np.asarray(suggested_wh, float), SUGGESTED, "x", "suggested anchors")
        plot.setTitle(f"{html.escape(coverage.model)}: object and anchor shapes "
                      f"(red: best IoU below {coverage.positive_iou:g})")

    @staticmethod
    def _add_shapes(plot: pg.PlotItem, wh: np.ndarray, color: str | tuple[int, int, int], symbol: str, name: str,
                    levels: ArrayLike | None = None) -> None:
        if not len(wh):
            return
        plot.plot(wh[:, 0], wh[:, 1], pen=None, symbol=symbol, symbolSize=16, symbolPen=pg.mkPen(color, width=2.5),
                  symbolBrush=pg.mkBrush(color), name=name)
        if levels is None:
            return
        for (w, h), level in zip(wh.tolist(), np.asarray(levels).tolist()):
            text = pg.TextItem(f"L{level}", color=color, anchor=(-0.15, 1.0))
            text.setPos(np.log10(w), np.log10(h))
            plot.addItem(text)

    @property
    def object_items(self) -> list:
        """The two scatter items: covered objects, then objects under the threshold."""
        return list(self._gt_of_points)

    def gt_of(self, item: pg.ScatterPlotItem, point_index: int) -> int:
        """The GT index behind point ``point_index`` of a scatter ``item`` of this chart."""
        return int(self._gt_of_points[item][point_index])

    def _on_points_clicked(self, item: pg.ScatterPlotItem, points: Sequence[pg.SpotItem], *_: object) -> None:
        if len(points):
            self.object_clicked.emit(self.gt_of(item, int(points[0].index())))


def export_coverage_plots(coverage: AnchorCoverage, out_dir: str | os.PathLike,
                          suggestion: AnchorSuggestion | None = None, suffix: str = ".png") -> list[Path]:
    """``best_iou_histogram`` and ``object_shapes`` of an ``AnchorCoverage`` (with an ``AnchorSuggestion``'s
    coverage and shapes when given) into ``out_dir``."""
    out = plots_folder(out_dir)
    histogram = BestIouHistogram()
    histogram.set_coverage(coverage, suggestion.coverage if suggestion is not None else None)
    shapes = ObjectShapesChart()
    shapes.set_coverage(coverage, suggestion.coverage.anchor_wh if suggestion is not None else None)
    return [export_chart(histogram, out / f"best_iou_histogram{suffix}"),
            export_chart(shapes, out / f"object_shapes{suffix}")]
