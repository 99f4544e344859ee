"""The Evaluation workspace (a dock): a dataset, the loaded model run over it (or a results file), every
number of its evaluation at the window's score threshold, and one click from any number to the image behind
it with the boxes marked — and from there every teaching view of that image.

It reads the window's ViewerState (the score slider moves everything; a new NMS IoU replays the cached
candidates of a model run) and opens images through ``window.show_dataset_image``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget,
)

from detviewer.errors import DetviewerError
from detviewer.evaluation.session import DatasetSession
from detviewer.gui.workspace.compare_tabs import CompareTab, CoverageTab
from detviewer.gui.workspace.export_tables import RunSource, TableExport, export_tables
from detviewer.gui.workspace.own_window import own_window_button
from detviewer.gui.workspace.runs import DatasetRunner, eta_text
from detviewer.gui.workspace.tabs import ConfusionTab, CurvesTab, ImagesTab, MetricsTab
from detviewer.state.events import ThresholdsChanged

__all__ = ["EvaluationWorkspace", "MATCH_IOU"]

MATCH_IOU = 0.5  # a detection finds an object at IoU >= 0.5 (COCO's AP50, the confusion matrix, TIDE)


class EvaluationWorkspace(QWidget):
    """window: the MainWindow (its state, background work, loaded model and ``show_dataset_image``)."""

    def __init__(self, window, parent=None) -> None:
        super().__init__(parent)
        self.window = window
        self.session: DatasetSession | None = None
        self._label_maps: dict[str, dict] = {}
        self.run_sources: dict[str, RunSource] = {}  # what each side's predictions came from (for the CSVs)
        self._pending_sources: dict[str, RunSource] = {}
        self.cache_dir: Path | None = None  # the per-image prediction cache (None: the user's cache folder)
        self.runner = DatasetRunner(window.background, self)
        self.label = QLabel("Open a dataset (File → Open dataset…): a COCO file, an Ultralytics data.yaml, a YOLO or "
                            "VOC folder.")
        self.label.setWordWrap(True)
        self.run_button = QPushButton("Run the model on the dataset")
        self.import_button = QPushButton("Import results…")
        self.compare_run = QPushButton("Compare: run the model as B")
        self.compare_import = QPushButton("Compare: import B…")
        self.cancel_button = QPushButton("Cancel")
        self.export_button = QPushButton("Export tables (CSV)…")
        self.own_window_button = own_window_button(self)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.metrics = MetricsTab()
        self.curves = CurvesTab(lambda score: window.state.set_thresholds(score=score))
        self.confusion = ConfusionTab(self.open_image)
        self.images = ImagesTab(self.open_image)
        self.compare = CompareTab(self.open_image)
        self.coverage = CoverageTab(self.check_coverage, self.open_object)
        self.tabs = QTabWidget()
        for tab, title in ((self.metrics, "Metrics"), (self.curves, "Curves"), (self.confusion, "Confusion · errors"),
                           (self.images, "Images"), (self.compare, "Compare A / B"), (self.coverage, "Anchor coverage")):
            self.tabs.addTab(tab, title)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.import_button, self.compare_run, self.compare_import, self.cancel_button,
                       self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.own_window_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.tabs, 1)
        self._replay_timer = QTimer(self)
        self._replay_timer.setSingleShot(True)
        self._replay_timer.setInterval(400)
        self._replay_timer.timeout.connect(self._replay_nms)
        self._wire()
        self._update_buttons()

    def _wire(self) -> None:
        self.run_button.clicked.connect(lambda: self.run_model("A"))
        self.compare_run.clicked.connect(lambda: self.run_model("B"))
        self.import_button.clicked.connect(lambda: self._ask_results("A"))
        self.compare_import.clicked.connect(lambda: self._ask_results("B"))
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.export_button.clicked.connect(self._export_tables)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_predictions)
        self.runner.failed.connect(lambda _side, text: self._fail(text))
        self.window.state.subscribe(self._on_state_event)

    # -- the dataset and its predictions -------------------------------------------------------------
    def set_dataset(self, dataset) -> None:
        self.session = DatasetSession(dataset)
        self._label_maps = {}
        self.run_sources = {}
        text = f"Dataset: {dataset.summary()}."
        if dataset.warnings:
            text += f" {len(dataset.warnings)} files were left out (View → Messages)."
        self.label.setText(text)
        self._update_buttons()

    def run_model(self, side: str) -> None:
        loaded = self.window.loaded_model
        if self.session is None or loaded is None:
            self._fail("Open a dataset and load a model first.")
            return
        try:
            self.runner.run_model(side, self.session.dataset, loaded.name, loaded.weights, self.cache_dir)
        except DetviewerError as exc:
            self._fail(str(exc))
            return
        self._pending_sources[side] = RunSource(loaded.name, str(loaded.weights))
        self.progress.setRange(0, self.session.dataset.num_images)
        self.progress.setValue(0)
        self.progress.show()
        self._update_buttons()

    def import_results(self, side: str, path) -> None:
        if self.session is None:
            self._fail("Open a dataset first: results are read against its images and classes.")
            return
        self.runner.import_results(side, path, self.session.dataset)
        self._pending_sources[side] = RunSource(Path(path).name, results_file=str(path))

    def _ask_results(self, side: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a COCO results file", "", "COCO results (*.json)")
        if path:
            self.import_results(side, path)

    def _on_progress(self, _side: str, done: int, total: int, eta: float) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(eta_text(done, total, eta))

    def _on_predictions(self, side: str, predictions, name: str, warnings, label_map=None) -> None:
        self.progress.hide()
        if label_map is not None:
            self._label_maps[side] = label_map
        for text in warnings:
            self.window.say(text, "warning")
        self.session.set_predictions(side, predictions, name)
        self.run_sources[side] = self._pending_sources.pop(side, self.run_sources.get(side, RunSource(name)))
        session = self.session

        def ready(_value, error: str) -> None:
            if error:
                self._fail(error)
            elif session is self.session:
                self.refresh()
                self._update_buttons()

        self.window.background.task(("evaluate", side), lambda _context: session.precompute(MATCH_IOU),
                                    "evaluating the dataset", ready, slot="evaluate")

    def _fail(self, text: str) -> None:
        self.progress.hide()
        self.window.say(text, "error")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has, running = self.session is not None, self.runner.running is not None
        self.run_button.setEnabled(has and not running and self.window.loaded_model is not None)
        self.import_button.setEnabled(has and not running)
        self.compare_run.setEnabled(has and not running and self.session.has("A") and self.window.loaded_model is not None)
        self.compare_import.setEnabled(has and not running and self.session.has("A"))
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(has and self.session.has("A"))

    # -- following the thresholds -----------------------------------------------------------------------
    def _on_state_event(self, event) -> None:
        if isinstance(event, ThresholdsChanged) and self.session is not None and self.session.has("A"):
            if event.score_only:
                self.refresh()
            else:
                self._replay_timer.start()  # another NMS: replay the cached candidates once the slider rests

    def refresh(self) -> None:
        """Every tab at the current score threshold (fast: what does not depend on it was precomputed)."""
        session = self.session
        if session is None or not session.has("A"):
            return
        score = self.window.state.thresholds.score
        snapshot = session.snapshot("A", score, MATCH_IOU)
        for tab in (self.metrics, self.curves, self.confusion, self.images):
            tab.display(snapshot, session)
        if session.comparing:
            self.compare.display(session.compare(score, MATCH_IOU), session)

    def _replay_nms(self) -> None:
        from detviewer.evaluation.renms import replay_nms

        session, t = self.session, self.window.state.thresholds
        for side, predictions in list(session.predictions.items()):
            label_map = self._label_maps.get(side)
            if predictions.cache is None or not label_map:
                continue  # a results file has no candidates to replay
            self.window.background.task(
                ("renms", side), lambda context, p=predictions, m=label_map: replay_nms(
                    p, m, t.iou, should_stop=lambda: context.cancelled),
                "replaying NMS over the dataset",
                lambda value, error, s=side: value is not None and self._on_predictions(s, value,
                                                                                         session.names[s], []),
                slot=f"renms:{side}")

    def inference_for(self, frame):
        """An Inference of the imported results for ``frame`` (when no model is loaded to run it), or None."""
        from detviewer.core.types import Detections, Inference

        session = self.session
        if session is None or not session.has("A") or frame is None or frame.path is None:
            return None
        image = session.dataset.image_index(frame.path)
        if image is None:
            return None
        dt = session.evaluation("A").dt
        mine = dt.image_index == image
        det = Detections(session.detection_boxes("A", mine.nonzero()[0]), dt.scores[mine], dt.category_index[mine],
                         session.dataset.class_names)
        return Inference(session.names.get("A", "results"), frame.size, det, det)

    # -- from a number to the image ------------------------------------------------------------------
    def open_image(self, image: int, overlays, note: str = "") -> None:
        self.window.show_dataset_image(self.session.dataset, image, overlays, note=note)

    def open_object(self, hit) -> None:
        self.window.show_dataset_image(self.session.dataset, hit.image, [], view="anchors", point=hit.centre_xy,
                                       note=f"best anchor IoU {hit.best_iou:.2f}")

    def check_coverage(self) -> None:
        if self.session is None or self.window.loaded_model is None:
            self._fail("Open a dataset and load an anchor-based model first.")
            return
        dataset = self.session.dataset

        def run(detector):
            from detviewer.detectors.anchor_source import anchor_source
            from detviewer.evaluation.coverage import anchor_coverage
            from detviewer.io.image_sizes import dataset_image_sizes

            source = anchor_source(detector)
            sizes, _ = dataset_image_sizes(dataset)
            return anchor_coverage(source, dataset.boxes, sizes, dataset.class_names)

        self.window.background.with_detector(("coverage",), run, "checking anchor coverage",
                                             lambda value, error: self._fail(error) if error else
                                             self.coverage.display(value))

    # -- exports ----------------------------------------------------------------------------------------
    def _export_tables(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the tables (CSV) to a folder")
        if folder:
            try:
                paths = self.export_tables(folder)
            except DetviewerError as exc:
                QMessageBox.warning(self, "Export tables", str(exc))
                return
            self.window.say(f"Wrote {len(paths)} tables to {folder}.")

    def export_tables(self, folder) -> list[Path]:
        """Every tab's table (as shown) into CSV files in ``folder``, naming the runs (workspace.export_tables)."""
        shown = {"classes": self.metrics.classes.rows_as_shown(), "images": self.images.model.rows_as_shown()}
        if self.session.comparing:
            shown["compare_images"] = self.compare.images.rows_as_shown()
        t = self.window.state.thresholds
        return export_tables(folder, TableExport(self.session, shown, dict(self.run_sources), t.score, t.iou, MATCH_IOU,
                                                 self.coverage.coverage))
