"""The main window: wires the feed, the worker, the session and the views. No detection logic here."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QSizePolicy, QVBoxLayout, QWidget

from detviewer.state.session import CHANGED_INFERENCE, Session
from detviewer.gui import menus, settings as settings_io
from detviewer.gui.feed import Feed
from detviewer.gui.ground_truth import GroundTruthHolder
from detviewer.gui.panels.files_panel import FilesPanel
from detviewer.gui.panels.model_panel import ModelPanel
from detviewer.gui.panels.nms_panel import NMSPanel
from detviewer.gui.panels.video_bar import VideoBar
from detviewer.gui.status import StatusBar
from detviewer.gui.worker import InferenceWorker, ModelRequest, WorkerThread, run_single_threaded
from detviewer.io.sources import CameraSource, ImageListSource, VideoFileSource
from detviewer.render.model.layers import state_name  # Qt-free: no pyqtgraph

__all__ = ["MainWindow"]


class MainWindow(QMainWindow):
    """``loader`` / ``lister`` / ``nms_trace_fn`` default to the real registry and core.nms (tests inject fakes)."""

    result_shown = Signal(object)  # InferenceResult, after the views were updated
    model_ready = Signal(object)  # LoadedModel, after the panels were updated (GUI thread)
    model_failed = Signal(str)  # one sentence (GUI thread)
    screenshot_done = Signal(bool, str)  # ok, message
    closed = Signal()  # after the window closed and the worker stopped

    def __init__(self, settings=None, loader=None, lister=None, nms_trace_fn=None, *, defer_build: bool = False) -> None:
        super().__init__()
        self.setWindowTitle("detviewer")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else settings_io.open_settings()
        self._nms_trace_fn = nms_trace_fn
        self.session = Session(settings_io.load_thresholds(self.settings), nms_trace_fn=self._nms_trace)
        self.worker = InferenceWorker(loader=loader, lister=lister)
        self.worker_thread = WorkerThread(self.worker)
        self.feed = Feed(self.worker, self)
        self.ground_truth = GroundTruthHolder(self)
        self.dropped_results = 0
        self._shown_id = 0
        self._screenshot: str | None = None
        self._screenshot_step: int | None = None
        self._closed = False
        self.built = False
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._starting = QLabel("Starting detviewer…")
        self._starting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        central = QWidget()
        self._central_layout = QVBoxLayout(central)
        self._central_layout.setContentsMargins(0, 0, 0, 0)
        self._central_layout.addWidget(self._starting, 1)
        self.setCentralWidget(central)
        self._restore_geometry()
        if not defer_build:
            self.build()

    def build(self) -> None:
        """Create the canvas, panels and menus and start the worker.

        Separate from ``__init__`` so that ``launch`` can put the window on screen first:
        importing pyqtgraph and superqt takes most of a second on a small machine.
        """
        if self.built:
            return
        from detviewer.gui.canvas import Canvas
        from detviewer.gui.panels.thresholds_panel import ThresholdsPanel

        self.canvas = Canvas()
        self.video_bar = VideoBar()
        self.video_bar.hide()
        self._starting.hide()
        self._central_layout.addWidget(self.canvas, 1)
        self._central_layout.addWidget(self.video_bar)
        self.model_panel = ModelPanel()
        self.thresholds_panel = ThresholdsPanel(self.session.thresholds)
        self.nms_panel = NMSPanel(self.session)
        self.files_panel = FilesPanel()
        from detviewer.gui.panels.views_panel import ViewsPanel

        self.views_panel = ViewsPanel()
        self.docks = [
            self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Thresholds", self.thresholds_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("NMS step by step", self.nms_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Files", self.files_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("View", self.views_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
        ]
        self.model_panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.thresholds_panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        from detviewer.gui.lecture import LectureMode
        from detviewer.gui.view_controller import ViewController

        self.views = ViewController(self)
        self.lecture = LectureMode(self)
        self.actions_ = menus.build_menus(self)
        self._shortcuts = menus.install_shortcuts(self, self._on_routed_key)
        menus.fill_recent(self, self.actions_, settings_io.load_recent(self.settings))
        self._wire()
        state = self.settings.value("window/state")
        if state is None or not self.restoreState(state):
            self.resizeDocks(self.docks[:3], [250, 190, 420], Qt.Orientation.Vertical)
            self.resizeDocks([self.docks[0], self.docks[3]], [440, 200], Qt.Orientation.Horizontal)
        self.built = True
        self.worker_thread.start()

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        w, f = self.worker, self.feed
        w.result_ready.connect(self._on_result)
        w.model_progress.connect(self.model_panel.show_loading)
        w.model_loaded.connect(self._on_model_loaded)
        w.model_failed.connect(self._on_model_failed)
        w.models_listed.connect(self.model_panel.set_models)
        f.frame_ready.connect(self._on_frame_ready)
        f.message.connect(self._on_message)
        f.source_changed.connect(self._on_source_changed)
        f.position_changed.connect(self._on_position_changed)
        f.playing_changed.connect(self.video_bar.set_playing)
        f.file_broken.connect(self._on_file_broken)
        f.stream_failed.connect(lambda _msg: self.actions_.reconnect.setEnabled(True))
        self.model_panel.load_requested.connect(self.request_model)
        self.thresholds_panel.thresholds_changed.connect(self._on_thresholds_changed)
        self.files_panel.file_chosen.connect(f.go)
        self.files_panel.previous_requested.connect(f.previous)
        self.files_panel.next_requested.connect(f.next)
        self.video_bar.play_toggled.connect(f.play)
        self.video_bar.seek_requested.connect(f.go)
        self.video_bar.step_requested.connect(f.step)
        self.canvas.box_clicked.connect(self.views.on_box_clicked)
        self.canvas.point_clicked.connect(self.views.on_point_clicked)
        self.views_panel.view_changed.connect(self.views.set_view)
        self.views_panel.options_changed.connect(self.views.set_options)
        self.views_panel.step_requested.connect(self.views.step)
        self.views.message.connect(self._on_message)
        self.ground_truth.message.connect(self._on_message)
        self.ground_truth.changed.connect(self._on_ground_truth_changed)
        self.views.frame_shown.connect(self.lecture.refresh)
        self.nms_panel.step_mode_changed.connect(self._on_step_mode_changed)
        self.canvas.describe = self.describe_candidate
        self.actions_.show_suppressed.toggled.connect(lambda _on: self._redraw())
        self.session.subscribe(self._on_session_changed)

    # -- public API (menus, launch, tests) ------------------------------------------------------
    def open_paths(self, paths) -> bool:
        ok = self.feed.open_paths(paths)
        if ok:
            for p in paths[:1]:
                menus.fill_recent(self, self.actions_, settings_io.add_recent(self.settings, str(Path(p).resolve())))
            source = self.feed.source
            self.ground_truth.discover(paths, source.paths if isinstance(source, ImageListSource) else [])
        return ok

    def open_ground_truth(self, path) -> bool:
        """Load a COCO ground-truth file for the images (File → Open ground truth…)."""
        ok = self.ground_truth.load(path)
        if ok:
            self.actions_.show_gt.setChecked(True)
        return ok

    def frame_ground_truth(self):
        """The shown frame's ground truth (io.image_gt.ImageBoxes) in the model's labels, or None."""
        inference = self.session.inference
        names = inference.detections.class_names if inference is not None else ()
        return self.ground_truth.for_frame(self.feed.current_frame, names)

    def open_camera(self, device: int = 0) -> bool:
        return self.feed.open_camera(device)

    def request_model(self, request: ModelRequest) -> None:
        self.model_panel.set_request(request)
        self.model_panel.show_loading(None, f"Loading {request.name}…")
        self.status.show_model(f"loading {request.name}…")
        settings_io.save_model_request(self.settings, request)
        self.worker.request_model(request)

    def screenshot_on_first_result(self, path: str, nms_step: int | None = None) -> None:
        """Save ``self.grab()`` to ``path`` after the first result (or model failure), then close.

        nms_step: show the NMS stepper at that step in the image (for docs and slides).
        """
        self._screenshot = str(path)
        self._screenshot_step = nms_step

    def describe_candidate(self, index: int) -> str:
        cand = self.session.candidates
        x1, y1, x2, y2 = (float(v) for v in cand.xyxy[index])
        states = self.session.states()
        state = state_name(states[index]) if len(states) else ""
        how = self.session.suppressed_by(index)
        if how is not None:
            state += f" at step {how[0]} (IoU {how[1]:.2f})"
        score = self.session.trace.scores[index] if self.session.trace is not None else cand.scores[index]
        return (f"#{index} {cand.name_of(cand.labels[index])}  score {score:.3f}\n"
                f"x1 {x1:.0f}  y1 {y1:.0f}  x2 {x2:.0f}  y2 {y2:.0f}  ({x2 - x1:.0f}×{y2 - y1:.0f})\n{state}")

    def _nms_trace(self, *args, **kwargs):
        """The session's NMS replay: single-threaded torch while the worker is idle (see worker.py)."""
        fn = self._nms_trace_fn
        if fn is None:
            from detviewer.ops.nms import nms_trace as fn
        if self.worker.busy or self.feed.playing:
            return fn(*args, **kwargs)
        return run_single_threaded(fn, *args, **kwargs)

    # -- slots ------------------------------------------------------------------------------------
    def _on_frame_ready(self, frame) -> None:
        self.canvas.set_frame(frame.image)
        self.session.set_inference(None)

    def _on_result(self, result) -> None:
        if result.generation != self.feed.generation or result.request_id <= self._shown_id:
            self.dropped_results += 1  # the user has moved on: an answer for a frame no longer shown
            return
        self._shown_id = result.request_id
        if result.frame is not self.feed.current_frame:
            self.canvas.set_frame(result.frame.image)
            self.feed.note_shown(result.frame)
        if result.error:
            self._on_message(result.error)
        self.session.set_inference(result.inference)
        if result.inference is not None:
            self.status.show_result(result, streaming=self.feed.playing)
        self.result_shown.emit(result)
        if self._screenshot and (result.inference is not None or result.error):
            if self._screenshot_step is not None and result.inference is not None:
                self.nms_panel.set_step_mode(True)
                self.session.set_step(self._screenshot_step)
            QTimer.singleShot(100, lambda: self._take_screenshot(not result.error, result.error))

    def _on_model_loaded(self, loaded) -> None:
        import sys

        torch = sys.modules.get("torch")
        cuda = bool(torch is not None and torch.cuda.is_available())
        self.model_panel.show_loaded(loaded, cuda_available=cuda)
        self.views_panel.set_capabilities(loaded.capabilities)
        note = f" — {loaded.note}" if loaded.note else ""
        self.status.show_model(f"{loaded.name} · {loaded.device}{' · untrained' if loaded.weights == 'none' else ''}")
        self.status.showMessage(f"Loaded {loaded.name} on {loaded.device}{note}.", 8000)
        self.model_ready.emit(loaded)
        if self._screenshot and self.feed.current_frame is None and not self.feed.playing:
            QTimer.singleShot(100, lambda: self._take_screenshot(True, ""))

    def _on_model_failed(self, message: str) -> None:
        self.model_panel.show_failed(message)
        self.status.show_model("no model")
        self._on_message(message)
        self.model_failed.emit(message)
        if self._screenshot:
            QTimer.singleShot(100, lambda: self._take_screenshot(False, message))

    def _on_message(self, message: str) -> None:
        self.status.showMessage(message, 15000)

    def _on_source_changed(self, source) -> None:
        self.video_bar.setVisible(isinstance(source, (VideoFileSource, CameraSource)))
        self.video_bar.slider.setVisible(isinstance(source, VideoFileSource))
        if isinstance(source, VideoFileSource):
            self.video_bar.set_length(len(source))
        self.files_panel.set_files(source.paths if isinstance(source, ImageListSource) else [])
        if isinstance(source, CameraSource):
            self.actions_.reconnect.setEnabled(False)
        self.setWindowTitle(f"detviewer — {source.name}" if source is not None else "detviewer")

    def _on_position_changed(self, index: int) -> None:
        if isinstance(self.feed.source, ImageListSource):
            self.files_panel.set_current(index)
            n = len(self.feed.source)
            self.setWindowTitle(f"detviewer — {self.feed.source.paths[index].name} ({index + 1}/{n})")
        elif isinstance(self.feed.source, VideoFileSource):
            self.video_bar.set_position(index)

    def _on_file_broken(self, index: int) -> None:
        self.files_panel.set_current(index, broken=True)
        self.session.set_inference(None)
        self.canvas.clear_frame(f"Cannot open this file.\n{self.status.currentMessage()}")

    def _on_thresholds_changed(self, changes: dict) -> None:
        self.session.set_thresholds(**changes)
        settings_io.save_thresholds(self.settings, self.session.thresholds)

    def _on_session_changed(self, kind: str) -> None:
        if self.views.view in ("detections", "nms"):
            self._redraw()
        elif kind == CHANGED_INFERENCE:
            self.views.reset_for_inference()
        self.nms_panel.refresh(kind)
        self.lecture.refresh()
        if kind == CHANGED_INFERENCE and self.nms_panel.step_mode and self.feed.playing:
            self.nms_panel.set_step_mode(False)  # a live stream cannot be stepped

    def _redraw(self) -> None:
        self.views.redraw()

    def _on_ground_truth_changed(self) -> None:
        self.actions_.show_gt.setEnabled(self.ground_truth.truth is not None)
        self.actions_.clear_gt.setEnabled(self.ground_truth.truth is not None)
        self.views.redraw()

    def _on_step_mode_changed(self, on: bool) -> None:
        if on and self.views.view != "nms":
            self.views.set_view("nms")
        elif not on and self.views.view == "nms":
            self.views.set_view("detections")

    def _on_routed_key(self, name: str) -> None:
        if self.lecture.handle_key(name):
            return
        if self.nms_panel.step_mode:
            s = self.session
            {"forward": s.step_forward, "back": s.step_back, "start": s.to_start, "end": s.to_end,
             "play": self.nms_panel.toggle_play}[name]()
        elif name == "forward":
            self.feed.next()
        elif name == "back":
            self.feed.previous()
        elif name == "play":
            self.feed.play(not self.feed.playing)
        elif name in ("start", "end") and self.feed.source is not None and len(self.feed.source):
            self.feed.go(0 if name == "start" else len(self.feed.source) - 1)

    def _take_screenshot(self, ok: bool, message: str) -> None:
        path, self._screenshot = self._screenshot, None
        if path is None:
            return
        saved = self.grab().save(path)
        self.screenshot_done.emit(bool(ok and saved), message or ("" if saved else f"Cannot write {path}."))
        self.close()

    # -- drag and drop -----------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- layout and shutdown -----------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()

    def shutdown(self) -> bool:
        """Stop the source and the worker (bounded, 2 s); True if the worker thread ended."""
        if self._closed:
            return True
        self._closed = True
        self.settings.setValue("window/geometry", self.saveGeometry())
        if not self.built:
            self.settings.sync()
            return True
        self.settings.setValue("window/state", self.saveState())
        save = settings_io.save_thresholds
        save(self.settings, self.session.thresholds)
        self.settings.sync()
        self.feed.stop()
        return self.worker_thread.shutdown(1800)  # plus teardown: the process is gone within 2 s


def show_error(parent, message: str) -> None:
    """A non-modal message box for errors that need more than the status bar."""
    box = QMessageBox(QMessageBox.Icon.Warning, "detviewer", message, QMessageBox.StandardButton.Ok, parent)
    box.setModal(False)
    box.show()
