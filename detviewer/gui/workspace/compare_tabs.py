"""The Evaluation workspace's A / B and anchor-coverage tabs.

Compare: per-class Δ (B − A) of AP, AP50 and recall, both error breakdowns, and the images sorted by Δ
("B got worse" first); opening one draws A's result, B's boxes and the objects only one of them found.
Coverage: for every object, the best IoU any of the model's own anchors reaches at that image's input size;
clicking an object opens its image in the anchors view at that point.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from detviewer.gui.workspace.array_table import ArrayTableModel, Column, fmt
from detviewer.gui.workspace.tabs import table_view

__all__ = ["CompareTab", "CoverageTab"]


def _signed(value) -> str:
    v = float(value)
    return "–" if not np.isfinite(v) else f"{v:+.3f}"


class CompareTab(QWidget):
    """opener(image, overlays, note) opens an image; ``display(comparison_snapshot, session)``."""

    def __init__(self, opener, parent=None) -> None:
        from detviewer.charts.compare import ClassDeltaChart, ErrorsCompareChart

        super().__init__(parent)
        self.deltas = ClassDeltaChart()
        self.errors = ErrorsCompareChart()
        self.sort_key = QComboBox()
        self.sort_key.addItem("per-image AP", "ap")
        self.sort_key.addItem("TP − FP − FN", "net")
        self.images = ArrayTableModel(self)
        self.view = table_view(self.images)
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self._opener = opener
        self._last = None
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(QLabel("Images sorted by Δ of"))
        top.addWidget(self.sort_key)
        split = QSplitter(Qt.Orientation.Horizontal)  # side by side: each chart has the tab's whole height
        for widget in (self.deltas, self.errors, self.view):
            split.addWidget(widget)
        split.setSizes([600, 600, 500])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.sort_key.currentIndexChanged.connect(lambda _i: self._last and self.display(*self._last))
        self.view.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.view.activated.connect(lambda index: self.open_row(index.row()))

    def display(self, snapshot, session) -> None:
        self._last = (snapshot, session)
        names = (session.names.get("A", "A"), session.names.get("B", "B"))
        self.heading.setText(f"A = {names[0]}, B = {names[1]}; every Δ is B − A (negative: B got worse).")
        self.deltas.set_deltas(snapshot.classes, session.dataset.class_names, names)
        self.errors.set_results(snapshot.tide_a, snapshot.tide_b, names)
        im = snapshot.images
        key = self.sort_key.currentData()
        files = np.asarray([p.name for p in session.dataset.image_paths], object)
        self.images.set_columns([
            Column("image", files), Column("Δ AP", im.d_ap, _signed), Column("Δ (TP − FP − FN)", im.d_net),
            Column("AP A", im.ap_a, fmt()), Column("AP B", im.ap_b, fmt()),
            Column("only A found", im.a_only), Column("only B found", im.b_only)], rows=im.worst_first(key))

    def open_row(self, row: int) -> None:
        snapshot, session = self._last
        image = self.images.item_at(row)
        self._opener(image, session.comparison_overlays(snapshot, image), "A and B together")


class CoverageTab(QWidget):
    """check(): measure coverage (the window runs it off the GUI thread and calls ``display``)."""

    def __init__(self, check, open_object, parent=None) -> None:
        from detviewer.charts.coverage import BestIouHistogram, ObjectShapesChart

        super().__init__(parent)
        self.button = QPushButton("Check the model's anchor coverage")
        self.summary = QLabel("For every object: the best IoU any of the model's own anchors reaches at its "
                              "image's input size. Objects under the model's positive threshold train only "
                              "through the best-match rule, or not at all.")
        self.summary.setWordWrap(True)
        self.histogram = BestIouHistogram()
        self.shapes = ObjectShapesChart()
        self.coverage = None
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.histogram)
        split.addWidget(self.shapes)
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.button.clicked.connect(check)
        self.shapes.object_clicked.connect(lambda gt: self.coverage is not None and open_object(self.coverage.hit(gt)))

    def display(self, coverage, suggestion=None) -> None:
        self.coverage = coverage
        self.histogram.set_coverage(coverage, suggestion.coverage if suggestion is not None else None)
        self.shapes.set_coverage(coverage)
        below = float(coverage.share_below)
        self.summary.setText(f"{below:.1%} of the objects are below the model's positive threshold "
                             f"({coverage.positive_iou:.2f}); click one in the right chart to see its image's anchors there."
                             + (f" Suggested: {suggestion.description}" if suggestion is not None else ""))
