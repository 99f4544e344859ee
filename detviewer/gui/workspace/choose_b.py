"""Which model, checkpoint or results file is B: asked when "Compare" would otherwise run the model of A again
(a model compared with itself shows a Δ of 0 everywhere)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from detviewer.gui.worker import ModelRequest

__all__ = ["BChoice", "ChooseB", "ask_for_b"]


@dataclass(frozen=True)
class BChoice:
    """One of: model (load it, then run it as B) or results (a COCO results file to import as B)."""

    model: ModelRequest | None = None
    results: str | None = None


class ChooseB(QDialog):
    """A registry model (with its default, COCO or a checkpoint's weights), or a results file."""

    def __init__(self, models: Sequence[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare: which is B?")
        self.use_model = QRadioButton("Run a model as B")
        self.use_results = QRadioButton("Import a results file as B")
        self.use_model.setChecked(True)
        self.model = QComboBox()
        for info in models:
            self.model.addItem(info.name, info.name)
        self.weights = QLineEdit("default")
        self.weights.setToolTip("default, coco, or a checkpoint / ONNX file")
        browse_weights = QPushButton("Checkpoint…")
        self.results = QLineEdit()
        browse_results = QPushButton("Results file…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow(self.use_model)
        form.addRow("Model", self.model)
        form.addRow("Weights", self.weights)
        form.addRow("", browse_weights)
        form.addRow(self.use_results)
        form.addRow("Results", self.results)
        form.addRow("", browse_results)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A is the model loaded now: B must be another model, checkpoint or results file."))
        layout.addLayout(form)
        layout.addWidget(buttons)
        browse_weights.clicked.connect(self._browse_weights)
        browse_results.clicked.connect(self._browse_results)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "",
                                              "Checkpoints and ONNX exports (*.pt *.pth *.ckpt *.onnx);;All (*)")
        if path:
            self.weights.setText(path)
            self.use_model.setChecked(True)

    def _browse_results(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a COCO results file", "", "COCO results (*.json)")
        if path:
            self.results.setText(path)
            self.use_results.setChecked(True)

    def choice(self) -> BChoice | None:
        if self.use_results.isChecked():
            return BChoice(results=self.results.text().strip()) if self.results.text().strip() else None
        name = self.model.currentData()
        return BChoice(model=ModelRequest(name, self.weights.text().strip() or "default")) if name else None


def ask_for_b(parent: QWidget, models: Sequence[Any]) -> BChoice | None:
    """Ask (modal); None when cancelled."""
    dialog = ChooseB(models, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None
