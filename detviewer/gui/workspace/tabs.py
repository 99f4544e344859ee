"""The Evaluation workspace's tabs for one set of predictions: metrics, curves, confusion matrix, errors, images.

Each tab shows an ``EvaluationSnapshot`` (``show(snapshot, session)``) and asks to open an image with the
boxes behind what was clicked through ``opener(image, overlays, note)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from detviewer.core.metrics import COCO_STAT_NAMES
from detviewer.evaluation.errors import ERROR_NAMES, ERROR_TYPES
from detviewer.gui.workspace.array_table import ArrayTableModel, Column, fmt

if TYPE_CHECKING:
    from detviewer.evaluation.dataset_evaluation import EvaluationSnapshot
    from detviewer.evaluation.images import ImagesTable
    from detviewer.evaluation.session import DatasetSession

__all__ = ["MetricsTab", "CurvesTab", "ConfusionTab", "ImagesTab", "table_view"]

_COCO_LABELS = {"AP": "AP @[.5:.95]", "AP50": "AP @ .50", "AP75": "AP @ .75", "AP_small": "AP small",
                "AP_medium": "AP medium", "AP_large": "AP large", "AR1": "AR max 1", "AR10": "AR max 10",
                "AR100": "AR max 100", "AR_small": "AR small", "AR_medium": "AR medium", "AR_large": "AR large"}


class _ColumnFitter(QObject):
    """Column widths of a table view: every column but the name column fits its contents (once per set of
    columns; Qt samples at most 1,000 rows); the name column gets the rest of the width, at least what
    MIN_NAME pixels show of it, elided in the middle."""

    MIN_NAME = 160

    def __init__(self, view: QTableView, model: ArrayTableModel, name_column: int) -> None:
        super().__init__(view)
        self.view, self.model, self.name_column = view, model, name_column
        self.fitted: list[str] = []
        self.name_width = 0  # the name column's contents
        model.modelReset.connect(self.fit_contents)
        view.viewport().installEventFilter(self)

    def fit_contents(self) -> None:
        headers = [c.header for c in self.model.columns]
        if headers == self.fitted or not self.model.rowCount():
            return
        self.fitted = headers
        self.view.resizeColumnsToContents()
        self.name_width = self.view.columnWidth(self.name_column) if self.name_column < len(headers) else 0
        self.share()

    def share(self) -> None:
        if not self.fitted or self.name_column >= len(self.fitted):
            return
        others = sum(self.view.columnWidth(k) for k in range(len(self.fitted)) if k != self.name_column)
        room = self.view.viewport().width() - others
        self.view.setColumnWidth(self.name_column, max(self.MIN_NAME, room))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.share()
        return False


def table_view(model: ArrayTableModel, name_column: int = 0) -> QTableView:
    """A sortable, row-selecting view of ``model``. The name column (file or class names) takes the width the
    others leave and elides in the middle (its tooltip has the full name), so "worst error" no longer takes it."""
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(22)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(False)
    view.column_fitter = _ColumnFitter(view, model, name_column)
    return view


class MetricsTab(QWidget):
    """The COCO table (pycocotools' 12 numbers) and the per-class table (AP, AP50, P / R / F1 at the threshold)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.coco = QTableWidget(len(COCO_STAT_NAMES), 2)
        self.coco.horizontalHeader().hide()
        self.coco.verticalHeader().hide()
        self.coco.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.coco.horizontalHeader().setStretchLastSection(True)
        self.classes = ArrayTableModel(self)
        self.class_view = table_view(self.classes)
        self.note = QLabel("COCO's 101-point interpolation (identical to pycocotools); precision, recall and F1 at "
                           "the score threshold, matched at IoU ≥ 0.5.")
        self.note.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.coco)
        split.addWidget(self.class_view)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)

    def display(self, snapshot: EvaluationSnapshot, session: DatasetSession) -> None:
        stats = snapshot.coco.stats
        for row, name in enumerate(COCO_STAT_NAMES):
            self.coco.setItem(row, 0, QTableWidgetItem(_COCO_LABELS.get(name, name)))
            value = stats[name]
            self.coco.setItem(row, 1, QTableWidgetItem("–" if value < 0 else f"{value:.3f}"))
        c = snapshot.classes
        names = np.asarray(session.dataset.class_names, object)
        self.classes.set_columns([
            Column("class", names), Column("AP", c.ap, fmt()), Column("AP50", c.ap50, fmt()),
            Column("precision", c.precision, fmt()), Column("recall", c.recall, fmt()), Column("F1", c.f1, fmt()),
            Column("TP", c.tp), Column("FP", c.fp), Column("FN", c.fn), Column("objects", c.n_gt)])


class CurvesTab(QWidget):
    """PR curves (IoU 0.5 and 0.5:0.95) and P / R / F1 against confidence with the threshold marked; one
    click sets the F1-best threshold."""

    def __init__(self, set_score: Callable[[float], object], parent: QWidget | None = None) -> None:
        from detviewer.charts.curves import ConfidenceChart, PRChart

        super().__init__(parent)
        self.pr = PRChart()
        self.confidence = ConfidenceChart()
        self.iou = QComboBox()
        self.iou.addItems(["0.5", "0.5:0.95"])
        self.best = QPushButton("Use the F1-best threshold")
        self._set_score = set_score
        self._last = None
        top = QHBoxLayout()
        top.addWidget(QLabel("PR curves at IoU"))
        top.addWidget(self.iou)
        top.addStretch(1)
        top.addWidget(self.best)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.pr)
        charts.addWidget(self.confidence)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(charts, 1)
        self.best.clicked.connect(lambda: set_score(round(self.confidence.best_threshold, 2)))
        self.confidence.threshold_clicked.connect(lambda value: set_score(round(float(value), 2)))
        self.iou.currentTextChanged.connect(lambda _t: self._last and self.display(*self._last))

    def display(self, snapshot: EvaluationSnapshot, session: DatasetSession) -> None:
        self._last = (snapshot, session)
        names = session.dataset.class_names
        self.pr.set_curves(snapshot.pr, names, iou=self.iou.currentText())
        self.confidence.set_curves(snapshot.curves, snapshot.score_threshold)
        self.best.setText(f"Use the F1-best threshold ({self.confidence.best_threshold:.2f})")


class ConfusionTab(QWidget):
    """The confusion matrix ([predicted, true], background last, as Ultralytics defines it) and, for a clicked
    cell, the images behind it; clicking one opens it with those boxes marked."""

    def __init__(self, opener: Callable[[int, list, str], None], parent: QWidget | None = None) -> None:
        from detviewer.charts.matrix import ConfusionChart, ErrorsChart

        super().__init__(parent)
        self.chart = ConfusionChart()
        self.errors = ErrorsChart()
        self.normalized = QCheckBox("normalised per true class")
        self.normalized.setChecked(True)
        self.hits = QListWidget()
        self.hits.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.title = QLabel("Click a cell to list the images behind it.")
        self.title.setWordWrap(True)
        self._opener = opener
        self._snapshot = self._session = None
        self._cell: tuple[int, int] | None = None
        side = QVBoxLayout()
        side.addWidget(self.title)
        side.addWidget(self.hits, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.chart)
        split.addWidget(side_widget)
        split.addWidget(self.errors)
        layout = QVBoxLayout(self)
        layout.addWidget(self.normalized)
        layout.addWidget(split, 1)
        self.chart.cell_clicked.connect(self.select_cell)
        self.normalized.toggled.connect(lambda _on: self._snapshot and self.display(self._snapshot, self._session))
        self.hits.itemActivated.connect(self._open)
        self.hits.itemClicked.connect(self._open)

    def display(self, snapshot: EvaluationSnapshot, session: DatasetSession) -> None:
        self._snapshot, self._session = snapshot, session
        self.chart.set_matrix(snapshot.confusion, session.dataset.class_names, normalized=self.normalized.isChecked())
        self.errors.set_result(snapshot.tide)
        if self._cell is not None:
            self.select_cell(*self._cell)

    def _name(self, k: int) -> str:
        names = self._session.dataset.class_names
        return names[k] if k < len(names) else "background"

    def select_cell(self, predicted: int, true: int) -> None:
        """List the images behind cell [predicted, true] (the chart's click)."""
        self._cell = (predicted, true)
        hits = self._snapshot.cell(predicted, true)
        self.title.setText(f"Predicted {self._name(predicted)}, true {self._name(true)}: "
                           f"{sum(len(h.detections) for h in hits)} boxes on {len(hits)} images.")
        self.hits.clear()
        for hit in hits:
            item = QListWidgetItem(f"{self._session.image_path(hit.image).name} ({len(hit.detections)} boxes)")
            item.setToolTip(str(self._session.image_path(hit.image)))
            item.setData(Qt.ItemDataRole.UserRole, hit)
            self.hits.addItem(item)

    def _open(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        legend = f"predicted {self._name(self._cell[0])}, true {self._name(self._cell[1])}"
        self._opener(hit.image, self._session.hit_overlays(hit, legend, score=self._snapshot.score_threshold), legend)


class ImagesTab(QWidget):
    """Every image's TP / FP / FN, AP and worst error at the threshold; sortable; a filter; double-click opens."""

    FILTERS = ("all images", "images with errors", "images with missed objects",
               *(f"images with {name} errors" for name in ERROR_NAMES[:5]))

    def __init__(self, opener: Callable[[int, list, str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QComboBox()
        self.filter.addItems(self.FILTERS)
        self.model = ArrayTableModel(self)
        self.view = table_view(self.model)
        self._opener = opener
        self._last = None
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.filter.currentIndexChanged.connect(lambda _i: self._last and self.display(*self._last))
        self.view.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.view.activated.connect(lambda index: self.open_row(index.row()))

    def display(self, snapshot: EvaluationSnapshot, session: DatasetSession) -> None:
        self._last = (snapshot, session)
        im = snapshot.images
        names = np.asarray([p.name for p in session.dataset.image_paths], object)
        worst = np.asarray([im.worst_error_name(i) for i in range(len(names))], object)
        self.model.set_columns([Column("image", names), Column("TP", im.tp), Column("FP", im.fp),
                                Column("FN", im.fn), Column("AP", im.ap, fmt()), Column("worst error", worst)],
                               rows=self._rows(im))

    def _rows(self, im: ImagesTable) -> np.ndarray:
        choice = self.filter.currentIndex()
        if choice == 0:
            return np.arange(len(im.tp))
        if choice == 1:
            return np.flatnonzero((im.fp > 0) | (im.fn > 0))
        if choice == 2:
            return np.flatnonzero(im.fn > 0)
        return np.flatnonzero(im.errors[:, ERROR_TYPES.index(ERROR_TYPES[choice - 3])] > 0)

    def open_row(self, row: int) -> None:
        snapshot, session = self._last
        image = self.model.item_at(row)
        boxes = snapshot.image_boxes(image)
        from detviewer.evaluation.dataset_evaluation import ImageHit

        hit = ImageHit(image, tuple(int(d) for d in boxes["fp"]), tuple(int(g) for g in boxes["missed"]))
        self._opener(image, session.hit_overlays(hit, "errors", kind="errors"), "false positives and missed objects")
