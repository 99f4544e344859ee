"""Curve charts of a dataset evaluation: COCO precision-recall per class, and P / R / F1 against confidence
with the current score threshold and the F1-best one marked. pyqtgraph ``PlotWidget`` subclasses the
Evaluation workspace embeds; ``charts.export`` writes them to PNG / SVG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from detviewer.evaluation.curves import ConfidenceCurves, PRCurves

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
    from PySide6.QtWidgets import QWidget

__all__ = ["PRChart", "ConfidenceChart", "class_pen", "MAX_CLASS_CURVES"]

#: More classes than this: only the mean curve and the selected classes are drawn.
MAX_CLASS_CURVES = 20


def class_pen(index: int, count: int, width: float = 1.5):
    return pg.mkPen(pg.intColor(index, hues=max(count, 1), values=1, maxValue=220), width=width)


def _setup(plot: pg.PlotItem, x_label: str, y_label: str) -> None:
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.setXRange(0, 1, padding=0.02)
    plot.setYRange(0, 1.02, padding=0.02)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.addLegend(offset=(-5, -5), labelTextSize="8pt")


class PRChart(pg.PlotWidget):
    """Per-class COCO PR curves (101-point interpolation) at IoU 0.5 or averaged over 0.5:0.95."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        _setup(self.getPlotItem(), "recall", "precision")

    def set_curves(self, pr: PRCurves, class_names: Sequence[str], iou: str = "0.5",
                   classes: Sequence[int] | None = None) -> None:
        """iou "0.5" or "0.5:0.95"; classes: the class indices to draw (default: all, up to MAX_CLASS_CURVES)."""
        plot = self.getPlotItem()
        plot.clear()
        precision = pr.precision_50 if iou == "0.5" else pr.precision_50_95
        valid = np.flatnonzero((precision > -1).all(axis=1))
        shown: list[int] = list(valid if classes is None else [c for c in classes if c in set(valid.tolist())])
        if classes is None and len(shown) > MAX_CLASS_CURVES:
            shown = []
        for k in shown:
            ap = precision[k].mean()
            plot.plot(pr.recall, precision[k], pen=class_pen(k, len(class_names)),
                      name=f"{class_names[k]} {ap:.3f}")
        if len(valid):
            mean = precision[valid].mean(axis=0)
            plot.plot(pr.recall, mean, pen=pg.mkPen("k", width=3), name=f"all classes {mean.mean():.3f} (AP{iou})")
        plot.setTitle(f"Precision-recall at IoU {iou} (COCO 101-point)")


class ConfidenceChart(pg.PlotWidget):
    """Precision, recall and F1 against confidence (mean over classes with GT, or one class), a dashed
    line at the current score threshold and a dotted one at the F1-best threshold (``best_threshold``,
    which the workspace's "use best" sets). A click on the plot emits ``threshold_clicked(confidence)``."""

    threshold_clicked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        _setup(self.getPlotItem(), "confidence", "value")
        self._best = 0.0
        self.scene().sigMouseClicked.connect(self._on_click)

    @property
    def best_threshold(self) -> float:
        return self._best

    def set_curves(self, curves: ConfidenceCurves, score_threshold: float, class_index: int | None = None,
                   class_name: str = "") -> None:
        plot = self.getPlotItem()
        plot.clear()
        if class_index is None:
            p, r, f1, title = curves.mean_precision, curves.mean_recall, curves.mean_f1, "all classes"
        else:
            p, r, f1 = curves.precision[class_index], curves.recall[class_index], curves.f1[class_index]
            title = class_name or f"class {class_index}"
        x = curves.confidence
        plot.plot(x, p, pen=pg.mkPen((31, 119, 180), width=2), name="precision")
        plot.plot(x, r, pen=pg.mkPen((214, 39, 40), width=2), name="recall")
        plot.plot(x, f1, pen=pg.mkPen((44, 160, 44), width=2.5), name="F1")
        best = int(np.argmax(f1))
        self._best = float(x[best])
        plot.addItem(pg.InfiniteLine(self._best, pen=pg.mkPen((44, 160, 44), width=1.5, style=Qt.PenStyle.DotLine),
                                     label=f"best F1 {f1[best]:.2f} at {self._best:.2f}",
                                     labelOpts={"position": 0.15, "color": (44, 120, 44)}))
        plot.addItem(pg.InfiniteLine(score_threshold, pen=pg.mkPen("k", width=1.5, style=Qt.PenStyle.DashLine),
                                     label=f"score > {score_threshold:.2f}", labelOpts={"position": 0.95, "color": "k"}))
        plot.setTitle(f"P / R / F1 against confidence, {title}, IoU {curves.iou_threshold:g}")

    def _on_click(self, event: MouseClickEvent) -> None:
        vb = self.getPlotItem().vb
        if vb.sceneBoundingRect().contains(event.scenePos()):
            x = float(np.clip(vb.mapSceneToView(event.scenePos()).x(), 0.0, 1.0))
            self.threshold_clicked.emit(x)
