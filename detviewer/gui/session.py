"""The window's session: one typed object that owns what the window shows and does.

It holds the view state (``ViewerState``), the background work (worker + task runner), the feed, the ground
truth, the message log, the loaded model with its capabilities, and the evaluation: the dataset and its runs
A and B as objects with their provenance (``core.run_info.RunInfo``). Widgets and the Evaluation workspace
receive the session (or a narrow protocol of it), never the window.

A change of dataset, model, run or selection is ONE typed event on ``changed`` (``DatasetChanged``,
``ModelChanged``, ``RunChanged``, ``SelectionChanged``, frozen dataclasses); every dependent follows it, so
nothing from an earlier dataset, model, run or selection stays on screen. What the frame shows changes
through the ViewerState's own typed events (state/events.py).

The frame path (docs/architecture.md): Feed.frame_ready -> ``frame_shown`` (the canvas) and the state;
worker.result_ready -> ``_on_result`` -> ViewerState.set_inference -> ``result_shown``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, Signal

from detviewer.core.run_info import RunInfo
from detviewer.gui import settings as settings_io
from detviewer.gui.background import BackgroundWork
from detviewer.gui.feed import Feed
from detviewer.gui.gc_policy import freeze_startup
from detviewer.gui.ground_truth import GroundTruthHolder
from detviewer.gui.iou_grid import IouGrid
from detviewer.gui.messages import ERROR, INFO, WARNING, MessageLog
from detviewer.gui.worker import FrameOptions, InferenceResult, LoadedModel, ModelRequest
from detviewer.io.sources import ImageListSource
from detviewer.render.model.registry import VIEWS
from detviewer.state.events import StateEvent, ThresholdsChanged, ViewChanged
from detviewer.state.viewer_state import StepCounter, ViewerState

if TYPE_CHECKING:
    from detviewer.core.types import Inference
    from detviewer.evaluation.session import DatasetSession
    from detviewer.io.frames import Frame

__all__ = ["Session", "Run", "SessionEvent", "DatasetChanged", "ModelChanged", "RunChanged", "SelectionChanged",
           "SIDES", "threshold_note"]

SIDES = ("A", "B")


def _nms_trace(*args: Any, **kwargs: Any) -> Any:
    """ops.nms.nms_trace, imported on first use (the worker imports it while loading a model)."""
    from detviewer.ops.nms import nms_trace

    return nms_trace(*args, **kwargs)


@dataclass(frozen=True, eq=False)
class Run:
    """One side of the evaluation: predictions over the session's dataset and where they came from.

    predictions: evaluation.run_dataset / io.predictions' DatasetPredictions; label_map: model label -> dataset
    class (a model run: NMS can be replayed over its cached candidates), None for a results file.
    """

    side: str
    info: RunInfo
    predictions: Any
    label_map: dict[int, int] | None = None

    @property
    def name(self) -> str:
        """The short name tables and legends use (the model, or the results file)."""
        return self.info.model


class SessionEvent:
    """Base of the session's events (one per change of dataset, model, run or selection)."""


@dataclass(frozen=True)
class DatasetChanged(SessionEvent):
    """Another dataset is open (None: closed); its runs are gone (a RunChanged does not follow)."""

    dataset: Any


@dataclass(frozen=True)
class ModelChanged(SessionEvent):
    """Another model is loaded. A failed load is no change: the working model stays (``model_failed``)."""

    model: LoadedModel


@dataclass(frozen=True)
class RunChanged(SessionEvent):
    """Run ``side`` ("A" or "B") is new, replayed at another NMS IoU, or gone (run None)."""

    side: str
    run: Run | None


@dataclass(frozen=True)
class SelectionChanged(SessionEvent):
    """A dataset image was chosen from a number (its boxes are the state's overlays), or the choice was left
    (image None: a plain image click, another dataset)."""

    image: int | None
    note: str = ""


def threshold_note(model: LoadedModel | None, score: float, kept_for: str = "") -> str:
    """The line under the score slider: where the threshold came from, for the model loaded now.

    kept_for: the run whose threshold was kept instead of the model's default (a comparison).
    """
    if model is None or model.display_score is None:
        return ""
    default = float(model.display_score)
    if abs(default - score) < 5e-3:
        return f"Score threshold {default:.2f}: {model.name}'s default for a clean result."
    if kept_for:
        return (f"{model.name}'s default is {default:.2f}; the threshold stays {score:.2f}, the one {kept_for} "
                "is evaluated at.")
    return f"{model.name}'s default for a clean result is {default:.2f}; the threshold is {score:.2f}."


class Session(QObject):
    """settings: a QSettings; loader / lister: the worker's (tests inject fakes); step_counter: the presenter's
    (state, view) -> (step, count), set by the window once the presenter exists."""

    changed = Signal(object)  # SessionEvent
    frame_shown = Signal(object)  # Frame to draw now (before the state has its result): the canvas
    result_shown = Signal(object)  # InferenceResult, after the state took it
    model_ready = Signal(object)  # LoadedModel, after every dependent followed
    model_failed = Signal(str)  # one sentence; the working model stays
    model_loading = Signal(object)  # ModelRequest
    recent_changed = Signal(object)  # list[str], File → Open recent

    def __init__(self, settings: QSettings, loader: Callable | None = None, lister: Callable | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._step_counter: StepCounter = lambda _state, _view: (0, 1)
        self.state = ViewerState({name: spec.defaults() for name, spec in VIEWS.items()},
                                 step_counter=lambda state, view: self._step_counter(state, view),
                                 trace_fn=_nms_trace, thresholds=settings_io.load_thresholds(settings),
                                 restart_steps={name for name, spec in VIEWS.items() if spec.steps_nms})
        self.background = BackgroundWork(loader=loader, lister=lister, parent=self)
        self.worker = self.background.worker
        self.background.start()  # the worker imports torch while the window is built
        self.feed = Feed(self.background, self)
        self.settings_writer = settings_io.SettingsWriter(settings, self.background, self.say)
        self.recent = settings_io.RecentFiles(settings, self.settings_writer)
        self.ground_truth = GroundTruthHolder(self.background, self)
        self.messages = MessageLog(self)
        self.iou_grid = IouGrid(self.background, self.state, _nms_trace)
        self.model: LoadedModel | None = None
        self.score_from_user = False  # a --score given on the command line wins over the model's display threshold
        self.dropped_results = 0
        self._shown_id = 0
        self.evaluation: DatasetSession | None = None  # the dataset and its runs' evaluation (Qt-free)
        self.runs: dict[str, Run] = {}
        self.selection: SelectionChanged = SelectionChanged(None)
        self._wire()

    def set_step_counter(self, counter: StepCounter) -> None:
        self._step_counter = counter

    def _wire(self) -> None:
        w, f = self.worker, self.feed
        w.result_ready.connect(self._on_result)
        w.model_loaded.connect(self._on_model_loaded)
        w.model_failed.connect(self._on_model_failed)
        f.frame_ready.connect(self._on_frame_ready)
        f.message.connect(lambda text: self.say(text, ERROR, per_image=True))
        self.ground_truth.message.connect(lambda text: self.say(text, WARNING))
        self.ground_truth.changed.connect(self._on_ground_truth_changed)
        self.state.subscribe(self._on_state_event)
        self._share_nms_scope()

    # -- telling the user ---------------------------------------------------------------------------
    def say(self, text: str, severity: str = INFO, per_image: bool = False, topic: str = "") -> None:
        """Tell the user one sentence (message log and status bar); topic: a later sentence on the same topic
        replaces it in the status bar (a model load's note goes when the next model loads)."""
        self.messages.add(text, severity, per_image, topic=topic)

    # -- opening --------------------------------------------------------------------------------------
    def open_paths(self, paths: list[str], remember: bool = True) -> bool:
        """Open files / a folder / a video (and the ground truth beside them), or a dataset (a data.yaml, a COCO
        .json, a YOLO or VOC folder) in the Evaluation workspace; remember: in File → Open recent."""
        from detviewer.gui import dataset_opening

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
            self.recent_changed.emit(self.recent.add(str(Path(paths[0]).resolve())))
        return True

    def open_dataset(self, path: str | Path) -> None:
        """Read a dataset (COCO .json, data.yaml, YOLO or VOC folder) off the GUI thread, then make it the
        session's (``DatasetChanged``) and show its first image."""
        from detviewer.gui.dataset_opening import read_dataset_task

        read_dataset_task(self, path)

    def open_ground_truth(self, path: str | Path) -> bool:
        """Load a COCO ground-truth file for the images open now (File → Open ground truth…)."""
        source = self.feed.source
        root = Path(source.paths[0]).resolve().parent if isinstance(source, ImageListSource) and source.paths else None
        ok = self.ground_truth.load(path, image_root=root)
        if ok:
            self.state.set_show_gt(True)
        return ok

    def open_camera(self, device: int = 0) -> bool:
        return self.feed.open_camera(device)

    # -- the model ----------------------------------------------------------------------------------------
    def request_model(self, request: ModelRequest) -> None:
        self.model_loading.emit(request)
        settings_io.save_model_request(self.settings, request)
        self.worker.request_model(request)

    def _on_model_loaded(self, loaded: LoadedModel) -> None:
        self.model = loaded
        kept_for = self.runs["A"].name if "A" in self.runs else ""
        if loaded.display_score is not None and not self.score_from_user and not kept_for:
            self.state.set_thresholds(score=float(loaded.display_score))
        note = f" — {loaded.note}" if loaded.note else ""
        self.say(f"Loaded {loaded.name} on {loaded.device}{note}.", WARNING if loaded.note else INFO, topic="model")
        self.changed.emit(ModelChanged(loaded))
        freeze_startup()  # torch and the model are in: full collections skip them (gui.gc_policy)
        self.model_ready.emit(loaded)

    def _on_model_failed(self, message: str) -> None:
        kept = f" {self.model.name} is still loaded." if self.model is not None else ""
        self.say(message + kept, ERROR, topic="model")
        self.model_failed.emit(message + kept)

    @property
    def cuda_available(self) -> bool:
        torch = sys.modules.get("torch")
        return bool(torch is not None and torch.cuda.is_available())

    # -- the frame path -------------------------------------------------------------------------------
    def _on_frame_ready(self, frame: Frame) -> None:
        self.iou_grid.cancel()  # another frame: its decoding must not wait behind the old grid
        self.frame_shown.emit(frame)
        self.messages.image_changed()
        self.state.set_frame(frame)

    def frame_gt(self, frame: Frame | None, inference: Any) -> Any:
        names = inference.detections.class_names if inference is not None else ()
        return self.ground_truth.for_frame(frame, names)

    def _on_result(self, result: InferenceResult) -> None:
        if result.generation != self.feed.generation or result.request_id <= self._shown_id:
            self.dropped_results += 1  # the user has moved on: an answer for a frame no longer shown
            return
        self._shown_id = result.request_id
        if result.frame is not self.feed.current_frame:
            self.frame_shown.emit(result.frame)
            self.feed.note_shown(result.frame)
        for text, severity in ((result.error, ERROR), (result.warning, WARNING)):
            if text:
                self.say(text, severity, per_image=True)
        if result.inference is None and not result.error:  # no model: an imported results file may answer
            result = replace(result, inference=self.inference_for(result.frame))
        inference: Inference | None = result.inference  # type: ignore[assignment]  # the worker's, checked there
        self.state.set_inference(inference, frame=result.frame, gt=self.frame_gt(result.frame, result.inference),
                                 restart=not self.feed.playing, replays=result.replays)
        if result.inference is not None and not self.feed.playing:
            self.iou_grid.prepare(result.inference)
        self.result_shown.emit(result)

    def _on_ground_truth_changed(self) -> None:
        self.state.set_ground_truth(self.frame_gt(self.state.frame, self.state.inference))

    def _on_state_event(self, event: StateEvent) -> None:
        if isinstance(event, ThresholdsChanged):
            self.settings_writer.thresholds(self.state.thresholds)
            self._share_nms_scope()
        elif isinstance(event, ViewChanged):
            self._share_nms_scope()

    def _share_nms_scope(self) -> None:
        """Each frame request carries the NMS replay to make beside the forward and whether to build anchors."""
        t = self.state.thresholds
        self.worker.configure(FrameOptions((t.iou, t.class_agnostic), VIEWS[self.state.view].reads_anchors))

    # -- the evaluation: a dataset and its runs ---------------------------------------------------------
    @property
    def dataset(self) -> Any:
        return self.evaluation.dataset if self.evaluation is not None else None

    def set_dataset(self, dataset: Any) -> None:
        """Make ``dataset`` the session's: its runs start empty (``DatasetChanged``)."""
        from detviewer.evaluation.session import DatasetSession

        self.evaluation = DatasetSession(dataset) if dataset is not None else None
        self.runs = {}
        self.selection = SelectionChanged(None)
        self.state.set_overlays(None, ())
        self.changed.emit(DatasetChanged(dataset))

    def set_run(self, run: Run) -> None:
        """Run ``run.side`` of the dataset open now (``RunChanged``); a new A drops the B compared with the old A."""
        if self.evaluation is None:
            return
        if run.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        self.runs[run.side] = run
        self.evaluation.set_predictions(run.side, run.predictions, run.name)
        self.changed.emit(RunChanged(run.side, run))

    def run(self, side: str) -> Run | None:
        return self.runs.get(side)

    def select(self, image: int | None, overlays: tuple | list = (), view: str | None = None,
               point: tuple[float, float] | None = None, note: str = "") -> None:
        """Show image ``image`` of the dataset with ``overlays`` (state.overlays.Overlay) over its result, or leave
        the selection (None); view: switch to it (e.g. "anchors", at ``point``)."""
        from detviewer.gui.dataset_opening import show_dataset_image

        self.selection = SelectionChanged(image, note)
        self.messages.clear_topic("selection")
        if image is None:
            self.state.set_overlays(None, ())
        else:
            show_dataset_image(self, self.dataset, image, overlays, view, point, note)
        self.changed.emit(self.selection)

    def inference_for(self, frame: Frame | None) -> Any:
        """An Inference of run A's imported results for ``frame`` (when no model is loaded to run it), or None."""
        from detviewer.core.types import Detections, Inference

        evaluation = self.evaluation
        if evaluation is None or not evaluation.has("A") or frame is None or frame.path is None:
            return None
        image = evaluation.dataset.image_index(frame.path)
        if image is None:
            return None
        dt = evaluation.evaluation("A").dt
        mine = dt.image_index == image
        det = Detections(evaluation.detection_boxes("A", mine.nonzero()[0]), dt.scores[mine], dt.category_index[mine],
                         evaluation.dataset.class_names)
        return Inference(evaluation.names.get("A", "results"), frame.size, det, det)

    def run_info(self, model: str, weights: str, protocol: str) -> RunInfo:
        """The provenance of a run of ``model`` over the dataset open now."""
        dataset = self.dataset
        name = model if weights in ("", "default") else f"{model} ({Path(weights).name})"
        return RunInfo(model=name, weights_hash="", protocol=protocol,
                       dataset=str(dataset.source) if dataset is not None else "")

    # -- ending ---------------------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Stop the feed and both background threads (waiting at most ``timeout_ms``); True if they ended."""
        self.feed.stop()
        return self.background.shutdown(timeout_ms)
