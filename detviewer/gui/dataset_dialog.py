"""File → Open dataset…: one dialog that takes a data.yaml, a COCO .json or a dataset folder (YOLO or VOC).

Qt's own (non-native) file dialog, so that it can carry an "Open this folder" button: it opens the folder
selected in the list, or else the folder being shown. "Open" on a folder that is a dataset opens it too
(on any other folder it goes in, as usual). The dialog is window-modal and does not block: ``chosen(path)``
says what was picked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QGridLayout, QPushButton, QWidget

__all__ = ["DatasetDialog", "ask_dataset"]

FILTERS = ("Datasets: data.yaml, COCO .json or a YOLO / VOC folder (*.json *.yaml *.yml)", "All files (*)")


class DatasetDialog(QFileDialog):
    """Emits ``chosen(path)`` with a file or folder, once, then closes."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__(parent, "Open a dataset: a data.yaml, a COCO .json, or a YOLO / VOC folder", start)
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setFileMode(QFileDialog.FileMode.ExistingFile)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        self.setNameFilters(list(FILTERS))
        self.folder_button = QPushButton("Open this folder")
        self.folder_button.setToolTip("A YOLO folder (labels/, data.yaml or classes.txt) or a VOC folder "
                                      "(Annotations/): the selected one, or else the one shown")
        self.folder_button.clicked.connect(self.choose_folder)
        layout = self.layout()  # Qt's own dialog is a grid: the button goes under Open / Cancel
        if isinstance(layout, QGridLayout):
            layout.addWidget(self.folder_button, layout.rowCount(), layout.columnCount() - 1)
        elif layout is not None:
            layout.addWidget(self.folder_button)

    def choose_folder(self) -> None:
        """Open the folder selected in the list, or else the one shown."""
        selected = [Path(p) for p in self.selectedFiles() if Path(p).is_dir()]
        folder = selected[0] if selected else Path(self.directory().absolutePath())
        self._choose(str(folder))

    def accept(self) -> None:
        from detviewer.gui.dataset_opening import is_dataset

        files = self.selectedFiles()
        if len(files) == 1 and Path(files[0]).is_dir() and is_dataset(Path(files[0])):
            self._choose(files[0])
            return
        super().accept()  # a file: done (below); a plain folder: Qt goes into it

    def done(self, result: int) -> None:
        super().done(result)
        if result == QFileDialog.DialogCode.Accepted and self.selectedFiles():
            self.chosen.emit(self.selectedFiles()[0])

    def _choose(self, path: str) -> None:
        super().done(QFileDialog.DialogCode.Rejected)  # closed without a second emit from done()
        self.chosen.emit(path)


def ask_dataset(parent: QWidget, open_path: Callable[[str], object], start: str = "") -> DatasetDialog:
    """Show the dialog (window-modal, not blocking); ``open_path(path)`` gets the choice."""
    dialog = DatasetDialog(parent, start)
    dialog.chosen.connect(open_path)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
