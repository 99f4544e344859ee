"""The main window: lays out the widgets, docks and menus and wires them to the session. Nothing else.

What the window shows and does is owned by the session (gui/session.py): the view state, the background work,
the feed, ground truth, messages, the loaded model and the evaluation's dataset and runs. Widgets receive the
session or the part of it they show, never the window. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QSizePolicy, QVBoxLayout, QWidget

from detviewer.gui import menus
from detviewer.gui import settings as settings_io
from detviewer.gui.gc_policy import collect_on_gui_thread
from detviewer.gui.gil_policy import favour_gui_thread
from detviewer.gui.messages import ERROR
from detviewer.gui.panels.files_panel import FilesPanel
from detviewer.gui.panels.model_panel import ModelPanel
from detviewer.gui.panels.video_bar import VideoBar
from detviewer.gui.session import ModelChanged, Session, SessionEvent, threshold_note
from detviewer.gui.status import StatusBar
from detviewer.gui.worker import ModelRequest
from detviewer.io.sources import ImageListSource
from detviewer.io.streams import CameraSource, VideoFileSource
from detviewer.render.model.pipeline import ModelAbilities
from detviewer.state.events import StateEvent, ThresholdsChanged, ViewChanged

__all__ = ["MainWindow"]

DOCK_WIDTH = 360  # docks keep their width whatever text they show (no jumping image)


class MainWindow(QMainWindow):
    """``loader`` / ``lister`` default to the detector registry (tests inject fakes)."""

    screenshot_done = Signal(bool, str)  # ok, message (screenshot_on_first_result)
    closed = Signal()  # after the window closed and the worker stopped

    def __init__(self, settings: QSettings | None = None, loader: Callable | None = None,
                 lister: Callable | None = None, *, defer_build: bool = False) -> None:
        super().__init__()
        collect_on_gui_thread()  # before the threads start: no Qt object may be collected on them
        favour_gui_thread()  # the GIL comes back to this thread within 1 ms (gui.gil_policy)
        self.setWindowTitle("detviewer")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else settings_io.open_settings()
        self.session = s = Session(self.settings, loader, lister, self)
        # what tests, launch and the benchmarks reach through the window: the session's parts
        self.state, self.background, self.worker, self.feed = s.state, s.background, s.worker, s.feed
        self.ground_truth, self.messages, self.iou_grid = s.ground_truth, s.messages, s.iou_grid
        self.result_shown, self.model_ready, self.model_failed = s.result_shown, s.model_ready, s.model_failed
        self.say, self.open_dataset = s.say, s.open_dataset
        self.open_ground_truth, self.open_camera = s.open_ground_truth, s.open_camera
        self._closed = False
        self.built = False
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._starting = QLabel("Starting detviewer…")
        self._starting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        central = QWidget()
        self._central_layout = QVBoxLayout(central)
        self._central_layout.setContentsMargins(0, 0, 0, 0)
        self._central_layout.setSpacing(0)  # no strip of the window colour between lecture mode's bands
        self._central_layout.addWidget(self._starting, 1)
        self.setCentralWidget(central)
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 860)
        if not defer_build:
            self.build()

    # the session's, under the names launch and the tests use (methods: a test's subclass may replace them)
    def open_paths(self, paths: list[str], remember: bool = True) -> bool:
        return self.session.open_paths(paths, remember)

    def request_model(self, request: ModelRequest) -> None:
        self.session.request_model(request)

    def build(self) -> None:
        """Create the canvas, panels and menus. Separate from ``__init__`` so that ``launch`` can put the window
        on screen first: importing pyqtgraph and superqt takes most of a second on a small machine."""
        if self.built:
            return
        from detviewer.gui.canvas import Canvas
        from detviewer.gui.export_dialogs import Exporter
        from detviewer.gui.lecture import LectureMode
        from detviewer.gui.lecture_deck import LiveDeck, choose_lecture_plan, routed_step_handlers
        from detviewer.gui.panels.nms_panel import NMSPanel
        from detviewer.gui.panels.thresholds_panel import ThresholdsPanel
        from detviewer.gui.panels.views_panel import ViewsPanel
        from detviewer.gui.presenter import ViewPresenter
        from detviewer.gui.stepping import AutoPlay, install_step_keys, step_handlers
        from detviewer.gui.workspace.dock import EvaluationWorkspace

        s = self.session
        self.canvas = Canvas()
        self.video_bar = VideoBar()
        self.video_bar.hide()
        self._starting.hide()
        self._central_layout.addWidget(self.canvas, 1)
        self._central_layout.addWidget(self.video_bar)
        self.presenter = ViewPresenter(self.state, self.background, self.canvas, self)
        s.set_step_counter(self.presenter.step_position)
        self.autoplay = AutoPlay(self.state, self)
        self.model_panel = ModelPanel()
        self.thresholds_panel = ThresholdsPanel(self.state, lambda: threshold_note(
            s.model, self.state.thresholds.score, s.runs["A"].name if "A" in s.runs else ""))
        self.nms_panel = NMSPanel(self.state, self.presenter, self.autoplay)
        self.files_panel = FilesPanel()
        self.views_panel = ViewsPanel(self.state, self.presenter)
        self.workspace = EvaluationWorkspace(s)
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
        self.lecture = LectureMode(self, self.canvas, self.presenter, self.feed, self.video_bar,
                                   on_leave=lambda: self._on_source_changed(self.feed.source))
        self._central_layout.addWidget(self.lecture.bar)
        self.exporter = Exporter(s, self.presenter, self.canvas, self.status.task_progress, self)
        self.actions_ = menus.build_menus(self, s, menus.MenuTargets(
            self.canvas.fit, self.lecture.toggle, self.exporter.export_view_dialog, self.exporter.export_nms_dialog,
            self.docks, lambda: choose_lecture_plan(self, self.deck), lambda: self.deck.set_plan_file("")))
        self.deck = LiveDeck(s, self.presenter, self, lambda: self.lecture.active,
                             lambda: self.lecture.overlay)
        self.lecture.active_changed.connect(self.deck.set_active)
        self.deck.heading_changed.connect(self.lecture.heading.show_title)
        stage = self.lecture.stage or self.canvas  # the canvas (and the table) in lecture mode
        self._central_layout.insertWidget(self._central_layout.indexOf(stage), self.lecture.heading)
        self._shortcuts = install_step_keys(self, routed_step_handlers(
            step_handlers(self.state, self.feed, self.autoplay), lambda: self.lecture.active, self.deck))
        self._wire()
        saved = self.settings.value("window/state")
        if saved is None or not self.restoreState(saved):
            self.resizeDocks(self.docks[:3], [250, 190, 420], Qt.Orientation.Vertical)
        self.built = True
        self.presenter.redraw()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        widget.setMinimumWidth(DOCK_WIDTH - 40)
        dock.setMinimumWidth(DOCK_WIDTH)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        s, f, a = self.session, self.feed, self.actions_
        s.changed.connect(self._on_session_event)
        s.frame_shown.connect(lambda frame: self.canvas.set_frame(frame.image, frame.display))
        s.recent_changed.connect(lambda paths: menus.fill_recent(a, paths, s.open_paths))
        menus.fill_recent(a, s.recent.paths, s.open_paths)
        self.model_panel.follow(s)
        self.status.follow(s)
        self.files_panel.follow(f)
        f.source_changed.connect(self._on_source_changed)
        f.position_changed.connect(self._on_position_changed)
        f.playing_changed.connect(self.video_bar.set_playing)
        f.file_broken.connect(self._on_file_broken)
        f.stream_failed.connect(lambda _msg: a.reconnect.setEnabled(True))
        self.video_bar.play_toggled.connect(f.play)
        self.video_bar.seek_requested.connect(f.go)
        self.video_bar.step_requested.connect(f.step)
        self.presenter.message.connect(lambda text: s.say(text, ERROR))
        self.ground_truth.changed.connect(self._on_ground_truth_changed)
        self.state.subscribe(self._on_state_event)

    def screenshot_on_first_result(self, path: str, nms_step: int | None = None) -> None:
        """Save the window to ``path`` after the first result (or model failure), then close; nms_step: show the
        "NMS step by step" view at that step (for docs and slides). ``screenshot_done(ok, message)`` tells."""
        from detviewer.gui.screenshot import FirstResultScreenshot

        self._screenshot = FirstResultScreenshot(self.session, self, path, nms_step)
        self._screenshot.done.connect(self.screenshot_done)

    # -- following the session ----------------------------------------------------------------------
    def _on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, ModelChanged):
            self.presenter.set_model(ModelAbilities.of(event.model))
            self.views_panel.set_enabled_views(self.presenter.refusals(event.model.name))
            self.thresholds_panel.refresh_note()
        if self.session.dataset is not None:
            self.workspace_dock.show()

    def _on_state_event(self, event: StateEvent) -> None:
        if isinstance(event, (ThresholdsChanged, ViewChanged)):
            self.thresholds_panel.refresh_note()

    def _on_source_changed(self, source: Any) -> None:
        self.video_bar.setVisible(isinstance(source, (VideoFileSource, CameraSource)))
        self.video_bar.slider.setVisible(isinstance(source, VideoFileSource))
        if isinstance(source, VideoFileSource):
            self.video_bar.set_length(len(source))
        if isinstance(source, CameraSource):
            self.actions_.reconnect.setEnabled(False)
        self.setWindowTitle(f"detviewer — {source.name}" if source is not None else "detviewer")

    def _on_position_changed(self, index: int) -> None:
        source = self.feed.source
        if isinstance(source, ImageListSource):
            self.setWindowTitle(f"detviewer — {source.paths[index].name} ({index + 1}/{len(source)})")
        elif isinstance(source, VideoFileSource):
            self.video_bar.set_position(index)

    def _on_file_broken(self, _index: int) -> None:
        self.state.set_frame(None)
        self.canvas.clear_frame(f"Cannot open this file.\n{self.status.message_text()}")

    def _on_ground_truth_changed(self) -> None:
        has = self.ground_truth.truth is not None
        self.actions_.show_gt.setEnabled(has)
        self.actions_.clear_gt.setEnabled(has)

    # -- drag and drop, closing ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.session.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
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
        if self.built:
            self.settings.setValue("window/state", self.saveState())
            self.settings.setValue("recent", self.session.recent.paths)  # a queued write in the task runner is dropped
            settings_io.save_thresholds(self.settings, self.state.thresholds)
            self.autoplay.set_playing(False)
        self.settings.sync()
        return self.session.shutdown(timeout_ms)  # plus teardown: the process is gone within 2 s
