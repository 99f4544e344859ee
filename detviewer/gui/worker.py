"""The inference worker: the only thread that touches a detector.

It serves typed requests: load a model (``ModelRequest``), run a ``gui.jobs.Job`` that needs the detector
(RoI pooling of a region of a given Inference, a dataset run; in order, before frames, so that a stream cannot
starve them), and run a frame (one "latest wins" slot: a new frame replaces the waiting one, so a webcam never
builds a backlog). A frame request carries the ``FrameOptions`` in force when it was submitted (the NMS replay to
make beside the forward, whether to build the anchors): no other thread writes the worker's attributes. Answers
are signals carrying the request they answer, so the window can drop stale ones. Every failure inside a request
is one sentence; the loop itself never ends but by ``stop``.

``submit`` / ``configure`` / ``request_model`` / ``run_job`` / ``cancel`` / ``stop`` are thread-safe plain
methods (the worker's thread is busy in ``run``, so queued slots would never be delivered).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from detviewer.core.types import DeferredAnchors
from detviewer.gui.jobs import Job, JobContext, JobResult, Progress, execute, failure_sentence
from detviewer.io.frames import Frame

__all__ = ["ModelRequest", "LoadedModel", "InferenceResult", "FrameOptions", "InferenceWorker", "WorkerThread",
           "failure_sentence"]


@dataclass(frozen=True)
class FrameOptions:
    """What a frame request asks for beside the forward pass. replay_scope: (IoU, class-agnostic) of the window's
    NMS: the result comes with its unfiltered replay there (showing it runs no NMS on the GUI thread); None: no
    replay. build_anchors: the view shown reads the anchors (ViewSpec.reads_anchors): build them in the worker."""

    replay_scope: tuple[float, bool] | None = None
    build_anchors: bool = False


@dataclass(frozen=True)
class ModelRequest:
    name: str = "auto"
    weights: str = "default"
    device: str = "auto"


@dataclass(frozen=True)
class LoadedModel:
    """What the window shows about the loaded detector."""

    name: str
    weights: str
    device: str
    class_names: tuple[str, ...]
    capabilities: frozenset[str]
    load_ms: float
    note: str = ""  # e.g. "untrained model: random weights, boxes mean nothing"
    display_score: float | None = None
    final_only_reason: str = ""


@dataclass(frozen=True, eq=False)
class InferenceResult:
    """One answer: the frame, the Inference (None without a model, or on failure) and sentences.

    error: why there is no Inference; warning: something was wrong but a result came (dropped boxes);
    latency_ms: submit -> result ready in the worker (the per-frame latency of the app).
    """

    request_id: int
    generation: int
    frame: Frame
    inference: object | None = None
    error: str = ""
    warning: str = ""
    latency_ms: float = 0.0
    infer_ms: float = 0.0
    replays: dict = field(default_factory=dict)  # replay_key -> the unfiltered NMSReplay made in the worker


def _registry_loader(name: str, weights: str, device: str, progress):
    from detviewer.detectors.registry import load_detector

    return load_detector(name, weights=weights, device=device, progress=progress)


def _registry_lister() -> list:
    from detviewer.detectors.registry import available_models

    return list(available_models())


class InferenceWorker(QObject):
    """Owns the detector. loader(name, weights, device, progress) -> Detector; lister() -> [ModelInfo]; both
    default to ``detviewer.detectors.registry`` (imported in the worker thread: the window never waits for torch).
    """

    result_ready = Signal(object)  # InferenceResult
    job_done = Signal(object)  # gui.jobs.JobResult
    progress = Signal(object, object)  # gui.jobs.Job, gui.jobs.Progress (a job reports it itself)
    model_progress = Signal(object, str)  # fraction 0..1 or None, message
    model_loaded = Signal(object)  # LoadedModel
    model_failed = Signal(str)  # one sentence
    models_listed = Signal(object)  # list[ModelInfo]

    def __init__(self, loader: Callable | None = None, lister: Callable | None = None) -> None:
        super().__init__()
        self._loader = loader or _registry_loader
        self._lister = lister or _registry_lister
        self._cond = threading.Condition()
        self._frame: tuple[int, int, Frame, float, FrameOptions] | None = None
        self._options = FrameOptions()
        self._model_request: ModelRequest | None = None
        self._jobs: deque[Job] = deque()
        self._cancelled: set[int] = set()
        self._stopping = False
        self._next_id = 0
        self._last_job: tuple[int, Frame, FrameOptions] | None = None
        self._detector = None
        self.busy = False  # inside a detector call or a model load
        self.models: list | None = None  # what lister() gave, once it ran
        self.torch_threads = 0  # intra-op threads of this worker thread (0: not configured)
        self.calls = 0  # detector.infer calls (tests check that sliders never re-run the model)
        # A frame's NMS replay runs here while the worker already runs the next forward (bench_gui_eventloop)
        self._replayer = _HandOff("nms replay")

    # -- called from any thread --------------------------------------------------------------
    def configure(self, options: FrameOptions) -> None:
        """The options of every frame submitted from now on (the frame waiting takes them too)."""
        with self._cond:
            self._options = options
            if self._frame is not None:
                self._frame = (*self._frame[:4], options)

    @property
    def options(self) -> FrameOptions:
        with self._cond:
            return self._options

    def submit(self, frame: Frame, generation: int = 0) -> int:
        """Queue ``frame`` (replacing any frame still waiting) with the options in force; returns its request id."""
        with self._cond:
            self._next_id += 1
            self._frame = (self._next_id, generation, frame, time.perf_counter(), self._options)
            self._cond.notify_all()
            return self._next_id

    def request_model(self, request: ModelRequest) -> None:
        """Load a detector (replacing any load request still waiting)."""
        with self._cond:
            self._model_request = request
            self._cond.notify_all()

    def run_job(self, job: Job) -> Job:
        """Run ``job`` (``context.detector``: the loaded detector) after the jobs already waiting."""
        with self._cond:
            self._jobs.append(job)
            self._cond.notify_all()
        return job

    def cancel(self, job: Job) -> None:
        """Drop ``job`` if it waits (answered as cancelled); ask it to stop if it runs."""
        with self._cond:
            if job in self._jobs:
                self._jobs.remove(job)
                self.job_done.emit(JobResult(job, cancelled=True))
            else:
                self._cancelled.add(id(job))

    def stop(self) -> None:
        """Ask the loop to end after the current request; requests still waiting are dropped."""
        with self._cond:
            self._stopping = True
            self._frame = None
            self._model_request = None
            self._jobs.clear()
            self._cond.notify_all()
        self._replayer.close()

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the worker thread -------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        self._list_models()
        self._warm_up()
        while True:
            with self._cond:
                while not (self._stopping or self._frame or self._model_request or self._jobs):
                    self._cond.wait()
                if self._stopping:
                    break
                # A model first, then a job (they answer the frame on screen: a stream must not starve them)
                request, self._model_request = self._model_request, None
                frame = job = None
                if request is None:
                    if self._jobs:
                        job = self._jobs.popleft()
                    else:
                        frame, self._frame = self._frame, None
            if request is not None:
                self._load(request)
            elif frame is not None:
                self._infer(*frame)
            else:
                self._run_job(job)
        self._replayer.close()
        self._replayer.join(1.0)  # a replay still running only ends its own thread; nothing is emitted after stop
        self._close_detector()

    def _list_models(self) -> None:
        try:
            models = self._lister()
        except Exception:  # the list is a convenience; loading by name still works
            models = []
        self.models = models
        self.models_listed.emit(models)

    def _warm_up(self) -> None:
        """Import torch and torchvision now, while the GUI thread builds the window (they take seconds)."""
        if self._loader is not _registry_loader:
            return
        try:
            from detviewer.detectors import torchvision_adapter  # noqa: F401
            from detviewer.detectors.threads import configure_torch_threads

            self.torch_threads = configure_torch_threads()
        except Exception:  # a broken install says so when a model is loaded
            pass

    def _progress(self, fraction, message: str) -> None:
        self.model_progress.emit(fraction, str(message))

    def _load(self, request: ModelRequest) -> None:
        self._replayer.drain()  # the previous model's last result goes out before this load's answers
        self.busy = True
        try:
            loaded = self._load_now(request)
        except BaseException as exc:  # noqa: BLE001 - SystemExit in a loader must not end the worker
            self.model_failed.emit(failure_sentence(f"Loading {request.name}", exc))
            return
        finally:
            self.busy = False
        self._rerun_last_frame()
        self.model_loaded.emit(loaded)

    def _load_now(self, request: ModelRequest) -> LoadedModel:
        """Load the requested detector; the working one is closed only once the new one is in (a load that
        fails keeps it, and the window keeps showing its results)."""
        if self._loader is _registry_loader:  # the real, torch-based detectors
            from detviewer.detectors.threads import configure_torch_threads

            self.torch_threads = configure_torch_threads()
        start = time.perf_counter()
        self._progress(None, f"Loading {request.name}…")
        detector = self._loader(request.name, request.weights, request.device, self._progress)
        if detector is not self._detector:
            self._close_detector()
        self._detector = detector
        self._warm_up_replay_imports()
        weights = getattr(detector, "weights", request.weights)
        note = getattr(detector, "load_note", "") or (
            "untrained model: random weights, its boxes mean nothing" if weights == "none" else "")
        return LoadedModel(
            name=getattr(detector, "name", "") or request.name, weights=weights,
            device=str(getattr(detector, "device", "cpu")), class_names=tuple(getattr(detector, "class_names", ())),
            capabilities=frozenset(getattr(detector, "capabilities", None) or ()),
            load_ms=(time.perf_counter() - start) * 1e3, note=note,
            display_score=getattr(detector, "display_score", None),
            final_only_reason=getattr(detector, "final_only_reason", ""),
        )

    def _rerun_last_frame(self) -> None:
        # The frame on screen was answered by the previous model (or none): answer it again.
        # A frame that waited for the model counts its latency from now, not from its submission.
        with self._cond:
            if self._frame is not None:
                request_id, generation, frame, _, options = self._frame
                self._frame = (request_id, generation, frame, time.perf_counter(), options)
            elif self._last_job is not None:
                self._next_id += 1
                generation, frame, options = self._last_job
                self._frame = (self._next_id, generation, frame, time.perf_counter(), self._options)

    @staticmethod
    def _warm_up_replay_imports() -> None:
        # Import the NMS replay here so the GUI thread never blocks on an import lock later.
        with contextlib.suppress(ImportError):
            import detviewer.ops.nms  # noqa: F401

    def _infer(self, request_id: int, generation: int, frame: Frame, submitted: float,
               options: FrameOptions) -> None:
        from detviewer.detectors.validation import checked_inference

        self._last_job = (generation, frame, options)
        detector = self._detector
        inference, error, warning, infer_ms = None, "", "", 0.0
        if detector is not None:
            name = getattr(detector, "name", "") or "The detector"
            self.busy = True
            start = time.perf_counter()
            try:
                self.calls += 1
                inference, warning = checked_inference(detector.infer(frame.image), name)
                if options.build_anchors and isinstance(getattr(inference, "anchors", None), DeferredAnchors):
                    inference.anchors.materialize()  # the view shown reads them: not on the GUI thread
            except BaseException as exc:  # noqa: BLE001 - one sentence, and the next frame still runs
                where = Path(frame.path).name if frame.path else frame.source_id
                error = failure_sentence(f"{name} on {where}", exc)
            finally:
                self.busy = False
            infer_ms = (time.perf_counter() - start) * 1e3
        if self._stopping:
            return
        latency_ms = (time.perf_counter() - submitted) * 1e3

        def finish() -> None:
            replays = self._first_replays(inference, options.replay_scope)
            if not self._stopping:
                self.result_ready.emit(InferenceResult(
                    request_id=request_id, generation=generation, frame=frame, inference=inference, error=error,
                    warning=warning, latency_ms=latency_ms, infer_ms=infer_ms, replays=replays))

        # The replay (NMS over every candidate: ~40 % of an ssdlite forward with 27,000 candidates) runs beside the
        # next forward, on the other core, instead of before it; results keep their order.
        self._replayer.put(finish)

    def _first_replays(self, inference: Any, scope: tuple[float, bool] | None) -> dict:
        """The unfiltered NMS replay at the window's IoU and scope (the request's), so that showing the result
        runs no NMS on the GUI thread; {} without one."""
        if inference is None or scope is None:
            return {}
        from detviewer.ops.nms import nms_trace
        from detviewer.state.nms_replay import Thresholds, replay_key, unfiltered_replay

        iou, class_agnostic = scope
        try:
            full = unfiltered_replay(inference, Thresholds(iou=iou, class_agnostic=class_agnostic), nms_trace)
        except Exception:  # noqa: BLE001 - the GUI thread computes it then, and says what is wrong
            return {}
        return {replay_key(iou, class_agnostic): full}

    def _run_job(self, job: Job) -> None:
        self._replayer.drain()  # answers keep the order of the requests
        detector = self._detector
        if detector is None:
            self.job_done.emit(JobResult(job, error=f"No model is loaded for {job.label}."))
            return
        self.busy = True
        try:
            result = execute(job, JobContext(job, lambda: self._stopping or id(job) in self._cancelled,
                                             self._report, detector))
        finally:
            self.busy = False
            with self._cond:
                self._cancelled.discard(id(job))
        if not self._stopping:
            self.job_done.emit(result)

    def _report(self, job: Job, progress: Progress) -> None:
        self.progress.emit(job, progress)

    def _close_detector(self) -> None:
        detector, self._detector = self._detector, None
        if detector is not None:
            with contextlib.suppress(Exception):
                detector.close()


class _HandOff:
    """A thread that runs the calls handed to it, in order, one at a time: ``put`` blocks while the previous call
    runs (the producer is at most one step ahead), so nothing is dropped and no backlog builds. ``drain`` waits for
    the running call; ``close`` drops a call not yet started and ends the thread after the running one."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._call: Callable[[], None] | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, call: Callable[[], None]) -> None:
        with self._cond:
            while self._call is not None and not self._closed:
                self._cond.wait()
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._call = call
            self._cond.notify_all()

    def drain(self) -> None:
        with self._cond:
            while self._call is not None and not self._closed:
                self._cond.wait()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._call = None
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._call is None and not self._closed:
                    self._cond.wait()
                if self._closed or self._call is None:
                    return
                call = self._call
            try:
                call()
            finally:
                with self._cond:
                    self._call = None
                    self._cond.notify_all()


class WorkerThread:
    """A QObject worker moved to its own QThread, with a bounded shutdown."""

    def __init__(self, worker: QObject, name: str = "inference") -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)

    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        """Ask the worker and its thread to stop, without waiting."""
        self.worker.stop()
        self.thread.quit()

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Stop the worker and its thread; True if the thread ended within ``timeout_ms``."""
        self.request_stop()
        finished = self.thread.wait(max(0, int(timeout_ms)))
        if not finished:
            _ORPHANS.append(self)  # keep it alive: destroying a running QThread aborts
        return bool(finished)


#: Threads that did not stop in time (a model forward cannot be interrupted); ``launch.run`` ends the
#: process without destroying them.
_ORPHANS: list[WorkerThread] = []


def orphaned_threads() -> list[WorkerThread]:
    return [w for w in _ORPHANS if w.thread.isRunning()]

