"""The main window: creates the parts and wires them together. No detection or view logic here.

The parts: the ViewerState (what is shown), the BackgroundWork (the worker that owns the detector, and its
task runner), the Feed (sources and decoding), the ViewPresenter (state -> canvas), the panels, lecture
mode, the menus and the keys. See docs/architecture.md.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QSizePolicy, QVBoxLayout, QWidget

from detviewer.gui import dataset_opening, menus, settings as settings_io
from detviewer.gui.background import BackgroundWork
from detviewer.gui.feed import Feed
from detviewer.gui.gc_policy import collect_on_gui_thread, freeze_startup
from detviewer.gui.gil_policy import favour_gui_thread
from detviewer.gui.ground_truth import GroundTruthHolder
from detviewer.gui.iou_grid import IouGrid
from detviewer.gui.messages import ERROR, INFO, WARNING, MessageLog
from detviewer.gui.panels.files_panel import FilesPanel
from detviewer.gui.panels.model_panel import ModelPanel
from detviewer.gui.panels.video_bar import VideoBar
from detviewer.gui.status import StatusBar
from detviewer.gui.worker import ModelRequest
from detviewer.io.sources import ImageListSource
from detviewer.io.streams import CameraSource, VideoFileSource
from detviewer.render.model.registry import VIEWS
from detviewer.state.events import ThresholdsChanged, ViewChanged
from detviewer.state.viewer_state import ViewerState

__all__ = ["MainWindow"]

DOCK_WIDTH = 360  # docks keep their width whatever text they show (no jumping image)


def _nms_trace(*args, **kwargs):
    """ops.nms.nms_trace, imported on first use (the worker imports it while loading a model)."""
    from detviewer.ops.nms import nms_trace

    return nms_trace(*args, **kwargs)


class MainWindow(QMainWindow):
    """``loader`` / ``lister`` default to the detector registry (tests inject fakes)."""

    result_shown = Signal(object)  # InferenceResult, after the state took it
    model_ready = Signal(object)  # LoadedModel, after the panels were updated
    model_failed = Signal(str)  # one sentence
    screenshot_done = Signal(bool, str)  # ok, message
    closed = Signal()  # after the window closed and the worker stopped

    def __init__(self, settings=None, loader=None, lister=None, *, defer_build: bool = False) -> None:
        super().__init__()
        collect_on_gui_thread()  # before the threads start: no Qt object may be collected on them
        favour_gui_thread()  # the GIL comes back to this thread within 1 ms (gui.gil_policy)
        self.setWindowTitle("detviewer")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else settings_io.open_settings()
        self.state = ViewerState({name: spec.defaults() for name, spec in VIEWS.items()},
                                 step_counter=lambda state, view: self.presenter.step_position(state, view),
                                 trace_fn=_nms_trace, thresholds=settings_io.load_thresholds(self.settings))
        self.background = BackgroundWork(loader=loader, lister=lister, parent=self)
        self.worker = self.background.worker
        self.background.start()  # the worker imports torch while the window is built
        self.feed = Feed(self.background, self)
        self.settings_writer = settings_io.SettingsWriter(self.settings, self.background, self.say)
        self.ground_truth = GroundTruthHolder(self.background, self)
        self.messages = MessageLog(self)
        self.loaded_model = None
        self.score_from_user = False  # a --score given on the command line wins over the model's display threshold
        self.dropped_results = 0
        self._shown_id = 0
        self.iou_grid = IouGrid(self.background, self.state, _nms_trace)
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
        """Create the canvas, panels and menus and start the background threads.

        Separate from ``__init__`` so that ``launch`` can put the window on screen first: importing
        pyqtgraph and superqt takes most of a second on a small machine.
        """
        if self.built:
            return
        from detviewer.gui.canvas import Canvas
        from detviewer.gui.lecture import LectureMode
        from detviewer.gui.panels.nms_panel import NMSPanel
        from detviewer.gui.panels.thresholds_panel import ThresholdsPanel
        from detviewer.gui.panels.views_panel import ViewsPanel
        from detviewer.gui.presenter import ViewPresenter
        from detviewer.gui.stepping import AutoPlay, install_step_keys, step_handlers

        self.canvas = Canvas()
        self.video_bar = VideoBar()
        self.video_bar.hide()
        self._starting.hide()
        self._central_layout.addWidget(self.canvas, 1)
        self._central_layout.addWidget(self.video_bar)
        self.presenter = ViewPresenter(self.state, self.background, self.canvas, self)
        self.autoplay = AutoPlay(self.state, self)
        self.model_panel = ModelPanel()
        self.thresholds_panel = ThresholdsPanel(self.state)
        self.nms_panel = NMSPanel(self.state, self.presenter, self.autoplay)
        self.files_panel = FilesPanel()
        self.views_panel = ViewsPanel(self.state, self.presenter)
        from detviewer.gui.workspace.dock import EvaluationWorkspace

        self.workspace = EvaluationWorkspace(self)
        self.docks = [
            self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Thresholds", self.thresholds_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("NMS step by step", self.nms_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Files", self.files_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("View", self.views_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("Evaluation", self.workspace, Qt.DockWidgetArea.BottomDockWidgetArea),
        ]
        self.workspace_dock = self.docks[-1]
        self.workspace_dock.hide()  # until a dataset is opened
        for panel in (self.model_panel, self.thresholds_panel):  # as tall as their wrapped text, no taller
            panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.lecture = LectureMode(self)
        self.actions_ = menus.build_menus(self)
        self._shortcuts = install_step_keys(self, step_handlers(self.state, self.feed, self.autoplay))
        self.recent = settings_io.RecentFiles(self.settings, self.settings_writer)
        menus.fill_recent(self, self.actions_, self.recent.paths)
        self._wire()
        saved = self.settings.value("window/state")
        if saved is None or not self.restoreState(saved):
            self.resizeDocks(self.docks[:3], [250, 190, 420], Qt.Orientation.Vertical)
        self.built = True
        self.presenter.redraw()

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        widget.setMinimumWidth(DOCK_WIDTH - 40)
        dock.setMinimumWidth(DOCK_WIDTH)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        w, f = self.worker, self.feed
        w.result_ready.connect(self._on_result)
        w.model_progress.connect(self.model_panel.show_loading)
        w.model_loaded.connect(self._on_model_loaded)
        w.model_failed.connect(self._on_model_failed)
        w.models_listed.connect(self.model_panel.set_models)
        if w.models is not None:  # listed before the panel existed
            self.model_panel.set_models(w.models)
        f.frame_ready.connect(self._on_frame_ready)
        f.message.connect(lambda text: self.say(text, ERROR, per_image=True))
        f.source_changed.connect(self._on_source_changed)
        f.position_changed.connect(self._on_position_changed)
        f.playing_changed.connect(self.video_bar.set_playing)
        f.file_broken.connect(self._on_file_broken)
        f.stream_failed.connect(lambda _msg: self.actions_.reconnect.setEnabled(True))
        self.model_panel.load_requested.connect(self.request_model)
        self.files_panel.file_chosen.connect(f.go)
        self.files_panel.previous_requested.connect(f.previous)
        self.files_panel.next_requested.connect(f.next)
        self.video_bar.play_toggled.connect(f.play)
        self.video_bar.seek_requested.connect(f.go)
        self.video_bar.step_requested.connect(f.step)
        self.presenter.message.connect(lambda text: self.say(text, ERROR))
        self.ground_truth.message.connect(lambda text: self.say(text, WARNING))
        self.ground_truth.changed.connect(self._on_ground_truth_changed)
        self.messages.changed.connect(self._on_messages_changed)
        self.state.subscribe(self._on_state_event)
        self._share_nms_scope()

    # -- public API (menus, launch, lecture mode, tests) ----------------------------------------
    def say(self, text: str, severity: str = INFO, per_image: bool = False) -> None:
        """Tell the user one sentence: it goes to the message log and the status bar."""
        self.messages.add(text, severity, per_image)

    def open_paths(self, paths, remember: bool = True) -> bool:
        """Open files / a folder / a video (and the ground truth beside them), or a dataset (a data.yaml, a COCO
        .json, a YOLO or VOC folder) in the Evaluation workspace; remember: in File → Open recent."""
        if len(paths) == 1 and dataset_opening.is_dataset(Path(paths[0])):
            self.open_dataset(paths[0])
            return True
        source = self.feed.source_for(paths)
        if source is None:
            return False
        # queued before the first frame's decoding: its ground truth is in place before its result
        self.ground_truth.discover(paths, source.paths if isinstance(source, ImageListSource) else [])
        self.feed.open_source(source)
        if remember:
            menus.fill_recent(self, self.actions_, self.recent.add(str(Path(paths[0]).resolve())))
        return True

    def open_dataset(self, path) -> None:
        """Open a dataset (COCO .json, Ultralytics data.yaml, YOLO or VOC folder) in the Evaluation workspace."""
        dataset_opening.open_dataset(self, path)

    def show_dataset_image(self, dataset, image: int, overlays, view: str | None = None, point=None,
                           note: str = "") -> None:
        """One image of the workspace's dataset with the boxes behind a number (see gui.dataset_opening)."""
        dataset_opening.show_dataset_image(self, dataset, image, overlays, view, point, note)

    def open_ground_truth(self, path) -> bool:
        """Load a COCO ground-truth file for the images open now (File → Open ground truth…)."""
        source = self.feed.source
        root = Path(source.paths[0]).resolve().parent if isinstance(source, ImageListSource) and source.paths else None
        ok = self.ground_truth.load(path, image_root=root)
        if ok:
            self.state.set_show_gt(True)
        return ok

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

        nms_step: show the "NMS step by step" view at that step (for docs and slides).
        """
        from detviewer.gui.screenshot import FirstResultScreenshot

        self._screenshot = FirstResultScreenshot(self, path, nms_step)

    def add_bottom_widget(self, widget: QWidget) -> None:
        """A band under the canvas (lecture mode's step bar)."""
        self._central_layout.addWidget(widget)

    def show_source_controls(self) -> None:
        """The video bar where the source has one (after lecture mode hid it)."""
        self._on_source_changed(self.feed.source)

    # -- slots ------------------------------------------------------------------------------------
    def _on_frame_ready(self, frame) -> None:
        self.iou_grid.cancel()  # another frame: its decoding must not wait behind the old grid
        self.canvas.set_frame(frame.image, frame.display)
        self.messages.image_changed()
        self.state.set_frame(frame)

    def _frame_gt(self, frame, inference):
        names = inference.detections.class_names if inference is not None else ()
        return self.ground_truth.for_frame(frame, names)

    def _on_result(self, result) -> None:
        if result.generation != self.feed.generation or result.request_id <= self._shown_id:
            self.dropped_results += 1  # the user has moved on: an answer for a frame no longer shown
            return
        self._shown_id = result.request_id
        if result.frame is not self.feed.current_frame:
            self.canvas.set_frame(result.frame.image, result.frame.display)
            self.feed.note_shown(result.frame)
        for text, severity in ((result.error, ERROR), (result.warning, WARNING)):
            if text:
                self.say(text, severity, per_image=True)
        if result.inference is None and not result.error:  # no model: an imported results file may answer
            result = replace(result, inference=self.workspace.inference_for(result.frame))
        self.state.set_inference(result.inference, frame=result.frame, gt=self._frame_gt(result.frame, result.inference),
                                 restart=not self.feed.playing, replays=result.replays)
        if result.inference is not None:
            self.status.show_result(result, streaming=self.feed.playing)
            if not self.feed.playing:
                self.iou_grid.prepare(result.inference)
        self.result_shown.emit(result)

    def _on_model_loaded(self, loaded) -> None:
        torch = sys.modules.get("torch")
        cuda = bool(torch is not None and torch.cuda.is_available())
        self.loaded_model = loaded
        self.model_panel.show_loaded(loaded, cuda_available=cuda)
        self.workspace._update_buttons()
        self.presenter.set_model(loaded.capabilities, loaded.final_only_reason)
        self.views_panel.set_enabled_views({name: self.presenter.cannot_show(spec, loaded.name)
                                            for name, spec in VIEWS.items()})
        if loaded.display_score is not None and not self.score_from_user:
            self.state.set_thresholds(score=float(loaded.display_score))
            self.thresholds_panel.set_note(f"Score threshold {loaded.display_score:.2f}: {loaded.name}'s default "
                                           "for a clean result.")
        untrained = " · untrained" if loaded.weights == "none" else ""
        self.status.show_model(f"{loaded.name} · {loaded.device}{untrained}")
        self.say(f"Loaded {loaded.name} on {loaded.device}" + (f" — {loaded.note}" if loaded.note else "") + ".",
                 WARNING if loaded.note else INFO)
        freeze_startup()  # torch and the model are in: full collections skip them (gui.gc_policy)
        self.model_ready.emit(loaded)

    def _on_model_failed(self, message: str) -> None:
        self.model_panel.show_failed(message)
        self.status.show_model("no model")
        self.loaded_model = None
        self.state.set_inference(None)  # no stale result under "no model"
        self.say(message, ERROR)
        self.model_failed.emit(message)

    def _on_messages_changed(self) -> None:
        current = self.messages.current
        self.status.show_message(self.messages.status_text(), error=current is not None and current.severity == ERROR)

    def _on_state_event(self, event) -> None:
        if isinstance(event, ThresholdsChanged):
            self.settings_writer.thresholds(self.state.thresholds)
            self._share_nms_scope()
        elif isinstance(event, ViewChanged):
            self.worker.build_anchors = VIEWS[self.state.view].reads_anchors

    def _share_nms_scope(self) -> None:
        t = self.state.thresholds
        self.worker.replay_scope = (t.iou, t.class_agnostic)  # each result comes with its NMS replay at these

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
        self.state.set_frame(None)
        message = self.status.message_text()
        self.canvas.clear_frame(f"Cannot open this file.\n{message}")

    def _on_ground_truth_changed(self) -> None:
        has = self.ground_truth.truth is not None
        self.actions_.show_gt.setEnabled(has)
        self.actions_.clear_gt.setEnabled(has)
        self.state.set_ground_truth(self._frame_gt(self.state.frame, self.state.inference))

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

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Save the settings, stop the source and the background threads (waiting at most ``timeout_ms``
        for each); True if they ended. Only the first call does anything."""
        if self._closed:
            return True
        self._closed = True
        self.settings.setValue("window/geometry", self.saveGeometry())
        if not self.built:
            self.settings.sync()
            return self.background.shutdown(timeout_ms)
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("recent", self.recent.paths)  # a write still queued in the task runner is dropped
        settings_io.save_thresholds(self.settings, self.state.thresholds)
        self.settings.sync()
        self.autoplay.set_playing(False)
        self.feed.stop()
        return self.background.shutdown(timeout_ms)  # plus teardown: the process is gone within 2 s
