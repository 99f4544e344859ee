"""A sortable table over numpy columns (per-class metrics, images, comparisons): QAbstractTableModel reading
the arrays on demand, so 100,000 images cost nothing until their rows are on screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from detviewer.io.csv_safe import write_csv

__all__ = ["Column", "ArrayTableModel"]


@dataclass(frozen=True)
class Column:
    """header; values (N,) any array; text(value) -> str for display (default: str)."""

    header: str
    values: np.ndarray
    text: Callable[[object], str] = str


def fmt(digits: int = 3) -> Callable[[object], str]:
    """A number with ``digits`` decimals, "–" for NaN / negative (COCO's "no ground truth")."""
    def text(value: object) -> str:
        v = float(value)
        return "–" if not np.isfinite(v) or v < 0 else f"{v:.{digits}f}"
    return text


class ArrayTableModel(QAbstractTableModel):
    """Rows are items 0..N-1 of the columns, shown in ``order`` (sorted by a column on request)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns: list[Column] = []
        self.order = np.zeros(0, np.int64)
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_columns(self, columns: list[Column], rows: np.ndarray | None = None) -> None:
        """New data; rows: which items to show (a filter), default all."""
        self.beginResetModel()
        self.columns = columns
        n = len(columns[0].values) if columns else 0
        self.order = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        if self._sort is not None and self._sort[0] < len(columns):
            self._apply_sort(*self._sort)
        self.endResetModel()

    def item_at(self, row: int) -> int:
        """The item (image, class, …) shown in ``row``."""
        return int(self.order[row])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # A text column (file and class names) also gives its full text as the tooltip: the view elides it.
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and column.values.dtype.kind not in "OUS":
            return None
        return column.text(column.values[self.order[index.row()]])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):  # the view asks before there is data (or for "no column")
            self._sort = None
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._apply_sort(column, order)
        self.layoutChanged.emit()

    def _apply_sort(self, column: int, order: Qt.SortOrder) -> None:
        values = self.columns[column].values[self.order]
        if values.dtype.kind in "fiub":
            key = values.astype(np.float64)
            key = np.where(np.isfinite(key), key, np.inf if order == Qt.SortOrder.AscendingOrder else -np.inf)
        else:
            key = np.asarray([str(v) for v in values])
        by = np.argsort(key, kind="stable")
        self.order = self.order[by if order == Qt.SortOrder.AscendingOrder else by[::-1]]

    def rows_as_shown(self) -> list[list[str]]:
        """The header, then every shown row in its order, as the cells' text."""
        return [[c.header for c in self.columns],
                *([c.text(c.values[item]) for c in self.columns] for item in self.order)]

    def write_csv(self, path: str | Path) -> Path:
        """The table as shown (rows in their order) to a CSV file: atomic, CSV-injection safe (io.csv_safe)."""
        return write_csv(path, self.rows_as_shown())
