"""Model panel: detector, weights, device, load status with progress, and the "untrained" note."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from detviewer.detectors.registry import AUTO
from detviewer.gui.panels.views_panel import wrapping_label
from detviewer.gui.worker import LoadedModel, ModelRequest

if TYPE_CHECKING:
    from detviewer.detectors.registry import ModelInfo
    from detviewer.gui.session import Session

__all__ = ["ModelPanel"]

_WEIGHTS = (("default", "default"), ("COCO", "coco"), ("none (untrained)", "none"))
_CHECKPOINT = "checkpoint file…"


class ModelPanel(QWidget):
    """Emits ``load_requested(ModelRequest)``; shows loading, success or a one-sentence failure."""

    load_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(18)
        self.model_combo.addItem("auto (demo model)", AUTO)
        self.weights_combo = QComboBox()
        for text, value in _WEIGHTS:
            self.weights_combo.addItem(text, value)
        self.weights_combo.addItem(_CHECKPOINT, "")
        self.device_combo = QComboBox()
        for name in ("auto", "cpu"):
            self.device_combo.addItem(name, name)
        self.load_button = QPushButton("Load")
        self.status_label = wrapping_label("No model loaded.", selectable=True)
        self.note_label = wrapping_label(selectable=True)
        self.note_label.setStyleSheet("color: #b85c00; font-weight: bold;")
        self.note_label.hide()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()

        form = QFormLayout()
        form.addRow("Detector", self.model_combo)
        form.addRow("Weights", self.weights_combo)
        form.addRow("Device", self.device_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.load_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.note_label)
        layout.addStretch(1)

        self._checkpoint = ""
        self.load_button.clicked.connect(self._on_load_clicked)
        self.weights_combo.activated.connect(self._on_weights_activated)

    # -- inputs from the worker -------------------------------------------------------------
    def set_models(self, models: Sequence[ModelInfo]) -> None:
        """Fill the detector list from ``registry.available_models()`` (ModelInfo objects)."""
        current = self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItem("auto (demo model)", AUTO)
        for info in models:
            self.model_combo.addItem(info.name, info.name)
            self.model_combo.setItemData(self.model_combo.count() - 1, getattr(info, "description", ""), 3)
        self._select(self.model_combo, current)
        self.model_combo.blockSignals(False)

    def set_request(self, request: ModelRequest) -> None:
        """Show ``request`` in the combos (adding unknown names, e.g. from the command line)."""
        self._select(self.model_combo, request.name, add=True)
        weights = request.weights
        if weights not in ("default", "coco", "none"):
            self._checkpoint = weights
            self.weights_combo.setItemText(self.weights_combo.count() - 1, f"file: {weights}")
            self.weights_combo.setCurrentIndex(self.weights_combo.count() - 1)
        else:
            self._select(self.weights_combo, weights)
        self._select(self.device_combo, request.device, add=True)

    def show_loading(self, fraction: float | None, message: str) -> None:
        self.progress.show()
        if fraction is None:
            self.progress.setRange(0, 0)  # busy indicator
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(max(0.0, min(1.0, float(fraction))) * 1000))
        self.status_label.setText(message or "Loading…")
        self.load_button.setEnabled(False)

    def show_loaded(self, loaded: LoadedModel, cuda_available: bool = False) -> None:
        self.progress.hide()
        self.load_button.setEnabled(True)
        self.status_label.setText(f"{loaded.name} on {loaded.device} ({loaded.load_ms / 1000:.1f} s to load)")
        self.note_label.setText(loaded.note)
        self.note_label.setVisible(bool(loaded.note))
        if cuda_available and self.device_combo.findData("cuda") < 0:
            self.device_combo.addItem("cuda", "cuda")

    def show_failed(self, message: str) -> None:
        self.progress.hide()
        self.load_button.setEnabled(True)
        self.status_label.setText(message)
        self.note_label.hide()

    def follow(self, session: Session) -> None:
        """Show the session's model: loading (with progress), loaded, or a failed load (the working model stays);
        Load asks the session."""
        from detviewer.gui.session import ModelChanged

        def loading(request: ModelRequest) -> None:
            self.set_request(request)
            self.show_loading(None, f"Loading {request.name}…")

        session.model_loading.connect(loading)
        session.worker.model_progress.connect(self.show_loading)
        session.model_failed.connect(self.show_failed)
        def changed(event: object) -> None:
            if isinstance(event, ModelChanged):
                self.show_loaded(event.model, cuda_available=session.cuda_available)

        session.changed.connect(changed)
        session.worker.models_listed.connect(self.set_models)
        if session.worker.models is not None:  # listed before the panel existed
            self.set_models(session.worker.models)
        self.load_requested.connect(session.request_model)

    # -- user actions --------------------------------------------------------------------------
    def current_request(self) -> ModelRequest:
        weights = self.weights_combo.currentData() or self._checkpoint or "default"
        return ModelRequest(self.model_combo.currentData() or AUTO, weights,
                            self.device_combo.currentData() or "auto")

    def _on_load_clicked(self) -> None:
        self.load_requested.emit(self.current_request())

    def _on_weights_activated(self, index: int) -> None:
        if self.weights_combo.itemData(index):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "",
                                              "Checkpoints and ONNX exports (*.pt *.pth *.ckpt *.onnx);;All (*)")
        if path:
            self._checkpoint = path
            self.weights_combo.setItemText(index, f"file: {path}")
        elif not self._checkpoint:
            self.weights_combo.setCurrentIndex(0)

    @staticmethod
    def _select(combo: QComboBox, value: object, add: bool = False) -> None:
        i = combo.findData(value)
        if i < 0 and add and value:
            combo.addItem(str(value), value)
            i = combo.count() - 1
        if i >= 0:
            combo.setCurrentIndex(i)
