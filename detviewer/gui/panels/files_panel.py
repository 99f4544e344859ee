"""File list of the current folder / image list, with previous and next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from detviewer.gui.feed import Feed

__all__ = ["FilesPanel"]


class FilesPanel(QWidget):
    """Emits ``file_chosen(index)`` when the user picks a row; ``set_files`` / ``set_current`` from outside."""

    file_chosen = Signal(int)
    previous_requested = Signal()
    next_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        buttons = QHBoxLayout()
        buttons.addWidget(self.prev_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.prev_button.clicked.connect(self.previous_requested)
        self.next_button.clicked.connect(self.next_requested)
        self._updating = False

    def set_files(self, paths: list[Path]) -> None:
        self._updating = True
        self.list.clear()
        self.list.addItems([Path(p).name for p in paths])
        for row, p in enumerate(paths):
            self.list.item(row).setToolTip(str(p))
        self._updating = False

    def set_current(self, index: int, broken: bool = False) -> None:
        self._updating = True
        self.list.setCurrentRow(index)
        item = self.list.item(index)
        if item is not None and broken and not item.text().endswith("(cannot open)"):
            item.setText(f"{item.text()}  (cannot open)")
            item.setForeground(self.palette().placeholderText())
        self._updating = False

    def follow(self, feed: Feed) -> None:
        """Show ``feed``'s image list and where it is; pick, previous and next move it."""
        from detviewer.io.sources import ImageListSource

        def source_changed(source: object) -> None:
            self.set_files(source.paths if isinstance(source, ImageListSource) else [])

        def position_changed(index: int) -> None:
            if isinstance(feed.source, ImageListSource):
                self.set_current(index)

        feed.source_changed.connect(source_changed)
        feed.position_changed.connect(position_changed)
        feed.file_broken.connect(lambda index: self.set_current(index, broken=True))
        self.file_chosen.connect(feed.go)
        self.previous_requested.connect(feed.previous)
        self.next_requested.connect(feed.next)

    def _on_row_changed(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.file_chosen.emit(row)
