"""The Evaluation workspace (a dock): the session's dataset, its runs A and B (the loaded model run over it, or a
results file), every number of their evaluation at the window's score threshold, and one click from any number
to the image behind it with the boxes marked — and from there every teaching view of that image.

It follows the session's events (gui.session): another dataset makes new, empty tabs; a new run is evaluated off
the GUI thread and shown; another model changes what can be run. The score slider moves every number; a new NMS
IoU replays the cached candidates of a model run. Images open through ``session.select``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from detviewer.errors import DetviewerError
from detviewer.evaluation.session import DatasetSession
from detviewer.gui.session import DatasetChanged, ModelChanged, Run, RunChanged, Session, SessionEvent
from detviewer.gui.worker import ModelRequest
from detviewer.gui.workspace.choose_b import BChoice, ask_for_b
from detviewer.gui.workspace.compare_tabs import CompareTab, CoverageTab
from detviewer.gui.workspace.export_tables import RunSource, TableExport, export_tables
from detviewer.gui.workspace.own_window import own_window_button
from detviewer.gui.workspace.runs import DatasetRunner, RunProgress, eta_text
from detviewer.gui.workspace.tabs import ConfusionTab, CurvesTab, ImagesTab, MetricsTab
from detviewer.state.events import StateEvent, ThresholdsChanged

__all__ = ["EvaluationWorkspace", "MATCH_IOU", "RAY_SETTING"]

RAY_SETTING = "evaluation/ray_address"  # where the window runs dataset evaluations: "" here, or a Ray address

MATCH_IOU = 0.5  # a detection finds an object at IoU >= 0.5 (COCO's AP50, the confusion matrix, TIDE)


class EvaluationWorkspace(QWidget):
    """session: the window's gui.session.Session (its dataset, runs, model, state and background work).

    ask_b() -> BChoice | None: which model, checkpoint or results file is B (a dialog; tests replace it).
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = session
        self.run_sources: dict[str, RunSource] = {}  # what each side's predictions came from (for the CSVs)
        self._pending_sources: dict[str, RunSource] = {}
        self.cache_dir: Path | None = None  # the per-image prediction cache (None: the user's cache folder)
        self.ask_b: Callable[[], BChoice | None] = lambda: ask_for_b(self, session.worker.models or [])
        self._b_after_load: ModelRequest | None = None
        self.runner = DatasetRunner(session.background, self)
        self.label = QLabel("Open a dataset (File → Open dataset…): a COCO file, an Ultralytics data.yaml, a YOLO or "
                            "VOC folder.")
        self.label.setWordWrap(True)
        self.heading = QLabel("")  # the run(s) and the threshold every tab describes
        self.heading.setWordWrap(True)
        self.run_button = QPushButton("Run the model on the dataset")
        self.import_button = QPushButton("Import results…")
        self.compare_run = QPushButton("Compare: run a model as B…")
        self.compare_import = QPushButton("Compare: import B…")
        self.cancel_button = QPushButton("Cancel")
        self.export_button = QPushButton("Export tables (CSV)…")
        self.ray_address = QLineEdit(str(self.app.settings.value(RAY_SETTING, "") or ""))
        self.ray_address.setPlaceholderText("this machine")
        self.ray_address.setToolTip("Run the model over the dataset on a Ray cluster: 'auto' (the cluster this "
                                    "machine belongs to) or the head's host:port; empty: here. Needs Ray "
                                    "(pip install 'detviewer[ray]').")
        self.ray_address.setFixedWidth(200)
        self.own_window_button = own_window_button(self)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.tabs = QTabWidget()
        self._make_tabs()
        buttons = QHBoxLayout()
        for button in (self.run_button, self.import_button, self.compare_run, self.compare_import, self.cancel_button,
                       self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Ray cluster:"))
        buttons.addWidget(self.ray_address)
        buttons.addWidget(self.own_window_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.heading)
        layout.addWidget(self.tabs, 1)
        self._replay_timer = QTimer(self)
        self._replay_timer.setSingleShot(True)
        self._replay_timer.setInterval(400)
        self._replay_timer.timeout.connect(self._replay_nms)
        self._wire()
        self._update_buttons()

    @property
    def session(self) -> DatasetSession | None:
        """The evaluation of the session's dataset and runs (evaluation.session.DatasetSession), or None."""
        return self.app.evaluation

    def _make_tabs(self) -> None:
        """Fresh tabs: nothing of an earlier dataset (its classes, its runs, its coverage) stays on screen."""
        old = [self.tabs.widget(i) for i in range(self.tabs.count())]
        self.tabs.clear()
        for widget in old:
            widget.deleteLater()
        self.metrics = MetricsTab()
        self.curves = CurvesTab(lambda score: self.app.state.set_thresholds(score=score))
        self.confusion = ConfusionTab(self.open_image)
        self.images = ImagesTab(self.open_image)
        self.compare = CompareTab(self.open_image)
        self.coverage = CoverageTab(self.check_coverage, self.open_object)
        for table in (self.images, self.compare):  # one click on a row opens its image (as the matrix's list does)
            table.view.clicked.connect(lambda index, t=table: t.open_row(index.row()))
        for tab, title in ((self.metrics, "Metrics"), (self.curves, "Curves"), (self.confusion, "Confusion · errors"),
                           (self.images, "Images"), (self.compare, "Compare A / B"), (self.coverage, "Anchor coverage")):
            self.tabs.addTab(tab, title)

    def _wire(self) -> None:
        self.run_button.clicked.connect(lambda: self.run_model("A"))
        self.compare_run.clicked.connect(lambda: self.run_model("B"))
        self.import_button.clicked.connect(lambda: self._ask_results("A"))
        self.compare_import.clicked.connect(lambda: self._ask_results("B"))
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.export_button.clicked.connect(self._export_tables)
        self.ray_address.editingFinished.connect(
            lambda: self.app.settings.setValue(RAY_SETTING, self.ray_address.text().strip()))
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_predictions)
        self.runner.failed.connect(lambda _side, text: self._fail(text))
        self.app.changed.connect(self._on_session_event)
        self.app.state.subscribe(self._on_state_event)

    # -- following the session -------------------------------------------------------------------------
    def _on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, DatasetChanged):
            self.runner.cancel()
            self.run_sources, self._pending_sources = {}, {}
            self._make_tabs()
            dataset = event.dataset
            text = f"Dataset: {dataset.summary()}." if dataset is not None else ""
            if dataset is not None and dataset.warnings:
                text += f" {len(dataset.warnings)} files were left out (View → Messages)."
            self.label.setText(text)
        elif isinstance(event, RunChanged) and event.run is not None:
            self._evaluate(event.run)
        elif isinstance(event, ModelChanged) and self._b_after_load is not None:
            self._b_after_load = None
            self.run_model("B", ask=False)
        self._show_heading()
        self._update_buttons()

    def _on_state_event(self, event: StateEvent) -> None:
        if isinstance(event, ThresholdsChanged) and self.session is not None and self.session.has("A"):
            if self.app.selection.image is not None:
                self.app.select(None)  # the number it came from changed: its boxes may no longer be behind it
            if event.score_only:
                self.refresh()
            else:
                self._replay_timer.start()  # another NMS: replay the cached candidates once the slider rests
            self._show_heading()

    def _show_heading(self) -> None:
        runs, score = self.app.runs, self.app.state.thresholds.score
        if "A" not in runs:
            self.heading.setText("")
            return
        text = (f"A = {runs['A'].info.label()} at score > {score:.2f}, matched at IoU ≥ {MATCH_IOU}: Metrics, Curves, "
                "Confusion and Images describe A.")
        if "B" in runs:
            text += f" B = {runs['B'].info.label()}: Compare A / B shows both."
        self.heading.setText(text)

    # -- runs ----------------------------------------------------------------------------------------------
    def run_model(self, side: str, ask: bool = True) -> None:
        """Run the loaded model over the dataset as ``side``. For B, when the loaded model is the one that made A,
        ask which model, checkpoint or results file B is (a model compared with itself shows only zeros)."""
        loaded = self.app.model
        if self.session is None or loaded is None:
            self._fail("Open a dataset and load a model first.")
            return
        if side == "B" and ask and self._same_as_a(loaded.name, loaded.weights):
            self._choose_b()
            return
        info = self.app.run_info(loaded.name, loaded.weights, "window run")
        try:
            self.runner.run_model(side, self.session.dataset, loaded.name, loaded.weights, self.cache_dir, info,
                                  self.ray_address.text().strip())
        except DetviewerError as exc:
            self._fail(str(exc))
            return
        self._pending_sources[side] = RunSource(loaded.name, str(loaded.weights))
        self.progress.setRange(0, self.session.dataset.num_images)
        self.progress.setValue(0)
        self.progress.show()
        self._update_buttons()

    def _same_as_a(self, name: str, weights: str) -> bool:
        a = self.app.run("A")
        return a is not None and a.info == replace(self.app.run_info(name, weights, "window run"),
                                                   created=a.info.created)

    def _choose_b(self) -> None:
        choice = self.ask_b()
        if choice is None:
            self.app.say("No B chosen: A is not compared with itself.")
        elif choice.results is not None:
            self.import_results("B", choice.results)
        elif choice.model is not None:
            if self._same_as_a(choice.model.name, choice.model.weights):
                self._fail(f"B would be {choice.model.name} again, the model of A: choose another model, checkpoint "
                           "or results file.")
                return
            self._b_after_load = choice.model  # run as B once it is loaded
            self.app.request_model(choice.model)

    def import_results(self, side: str, path: str | Path) -> None:
        if self.session is None:
            self._fail("Open a dataset first: results are read against its images and classes.")
            return
        self.runner.import_results(side, path, self.session.dataset,
                                   self.app.run_info(Path(path).name, "", "results file"))
        self._pending_sources[side] = RunSource(Path(path).name, results_file=str(path))

    def _ask_results(self, side: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a COCO results file", "", "COCO results (*.json)")
        if path:
            self.import_results(side, path)

    def _on_progress(self, progress: RunProgress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)
        self.progress.setFormat(eta_text(progress.done, progress.total, progress.eta_s))

    def _on_predictions(self, run: Run, warnings: list[str]) -> None:
        self.progress.hide()
        for text in warnings:
            self.app.say(text, "warning")
        if run.info.dataset != self.app.run_info("", "", "").dataset:
            return  # made for a dataset no longer open
        self.run_sources[run.side] = self._pending_sources.pop(
            run.side, self.run_sources.get(run.side, RunSource(run.name)))
        self.app.set_run(run)

    def _evaluate(self, run: Run) -> None:
        session = self.session
        if session is None:
            return

        def ready(_value: Any, error: str) -> None:
            if error:
                self._fail(error)
            elif session is self.session and self.app.run(run.side) is run:
                self.refresh()
                self._update_buttons()

        self.app.background.task(("evaluate", run.side), lambda _context: session.precompute(MATCH_IOU),
                                 "evaluating the dataset", ready, slot="evaluate")

    def _fail(self, text: str) -> None:
        self.progress.hide()
        self.app.say(text, "error")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has, running = self.session is not None, self.runner.running is not None
        has_a = has and self.session.has("A")
        model = self.app.model is not None
        self.run_button.setEnabled(has and not running and model)
        self.import_button.setEnabled(has and not running)
        self.compare_run.setEnabled(has_a and not running and model)
        self.compare_import.setEnabled(has_a and not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(has_a)

    def refresh(self) -> None:
        """Every tab at the current score threshold (fast: what does not depend on it was precomputed)."""
        session = self.session
        if session is None or not session.has("A"):
            return
        score = self.app.state.thresholds.score
        snapshot = session.snapshot("A", score, MATCH_IOU)
        for tab in (self.metrics, self.curves, self.confusion, self.images):
            tab.display(snapshot, session)
        if session.comparing:
            self.compare.display(session.compare(score, MATCH_IOU), session)

    def _replay_nms(self) -> None:
        from detviewer.evaluation.renms import replay_nms

        t = self.app.state.thresholds
        for side, run in list(self.app.runs.items()):
            if run.predictions.cache is None or not run.label_map:
                continue  # a results file has no candidates to replay
            self.app.background.task(
                ("renms", side), lambda context, r=run: replay_nms(
                    r.predictions, r.label_map, t.iou, should_stop=lambda: context.cancelled),
                "replaying NMS over the dataset",
                lambda value, _error, r=run: value is not None and self.app.run(r.side) is r and self.app.set_run(
                    replace(r, predictions=value)),
                slot=f"renms:{side}")

    # -- from a number to the image ------------------------------------------------------------------
    def open_image(self, image: int, overlays: list, note: str = "") -> None:
        self.app.select(image, overlays, note=note)

    def open_object(self, hit: Any) -> None:
        self.app.select(hit.image, [], view="anchors", point=hit.centre_xy, note=f"best anchor IoU {hit.best_iou:.2f}")

    def check_coverage(self) -> None:
        if self.session is None or self.app.model is None:
            self._fail("Open a dataset and load an anchor-based model first.")
            return
        dataset = self.session.dataset

        def run(detector: Any) -> Any:
            from detviewer.detectors.anchor_source import anchor_source
            from detviewer.evaluation.coverage import anchor_coverage
            from detviewer.io.image_sizes import dataset_image_sizes

            source = anchor_source(detector)
            sizes, _ = dataset_image_sizes(dataset)
            return anchor_coverage(source, dataset.boxes, sizes, dataset.class_names)

        def done(value: Any, error: str) -> None:
            if error:
                self._fail(error)
            elif self.session is not None and self.session.dataset is dataset:
                self.coverage.display(value)

        self.app.background.with_detector(("coverage",), run, "checking anchor coverage", done)

    # -- exports ----------------------------------------------------------------------------------------
    def _export_tables(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the tables (CSV) to a folder")
        if folder:
            try:
                paths = self.export_tables(folder)
            except DetviewerError as exc:
                QMessageBox.warning(self, "Export tables", str(exc))
                return
            self.app.say(f"Wrote {len(paths)} tables to {folder}.")

    def export_tables(self, folder: str | Path) -> list[Path]:
        """Every tab's table (as shown) into CSV files in ``folder``, naming the runs (workspace.export_tables)."""
        shown = {"classes": self.metrics.classes.rows_as_shown(), "images": self.images.model.rows_as_shown()}
        if self.session.comparing:
            shown["compare_images"] = self.compare.images.rows_as_shown()
        t = self.app.state.thresholds
        return export_tables(folder, TableExport(self.session, shown, dict(self.run_sources), t.score, t.iou, MATCH_IOU,
                                                 self.coverage.coverage))
