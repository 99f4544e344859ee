"""The inference worker: owns the detector, runs in its own QThread, answers with request ids.

The inbox has one slot for a frame and one for a model request; a new frame replaces the
waiting one ("latest wins"), so a webcam never builds a backlog. ``submit`` / ``request_model``
/ ``stop`` are thread-safe plain methods (the worker's thread is busy in ``run``, so queued
slots would never be delivered); results come back as signals carrying plain Python objects.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from detviewer.errors import DetviewerError
from detviewer.io.sources import Frame

__all__ = ["ModelRequest", "LoadedModel", "InferenceResult", "InferenceWorker", "WorkerThread",
           "DEFAULT_MODEL", "FALLBACK_MODEL", "run_single_threaded", "configure_torch_threads"]

#: "auto" picks the first shipped demo model that loads, else an untrained FALLBACK_MODEL.
DEFAULT_MODEL = "auto"
DEMO_CHOICES = ("demo-frcnn", "demo-ssd", "demo-yolo")
FALLBACK_MODEL = "ssdlite320_mobilenet_v3_large"


@dataclass(frozen=True)
class ModelRequest:
    name: str = DEFAULT_MODEL
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


@dataclass(frozen=True, eq=False)
class InferenceResult:
    """One answer: the frame, the Inference (None when no model is loaded) or an error sentence.

    latency_ms: submit -> result ready in the worker (the per-frame latency of the app).
    """

    request_id: int
    generation: int
    frame: Frame
    inference: object | None = None
    error: str = ""
    latency_ms: float = 0.0
    infer_ms: float = 0.0
    submitted: float = field(default=0.0, repr=False)


def run_single_threaded(fn, *args, **kwargs):
    """Run ``fn`` with torch's intra-op pool at one thread, then restore it.

    For the NMS replay in the GUI thread: many small ops (per-class NMS, IoU blocks), for which
    the pool's hand-offs cost more than they save on a busy 2-core machine (10k candidates:
    23 ms on one thread, 100 ms on two, measured with other processes running). The setting is
    per calling thread with torch's OpenMP backend, but other backends may share it process-wide,
    so the window calls this only while the worker is idle.
    """
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else 1
    if threads == 1:
        return fn(*args, **kwargs)
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def configure_torch_threads() -> int:
    """Leave one core to the GUI: torch intra-op threads = cores - 1 (at least 1).

    Call it in the worker thread: with torch's OpenMP backend the count applies to the calling
    thread (and threads it starts later), not to the GUI thread.

    Only when nobody chose a count (torch's default equals the core count and OMP_NUM_THREADS
    is unset); ``DETVIEWER_THREADS=N`` forces N. On a 2-core machine a 2-thread forward pass
    shares its cores with the GUI thread and stalls badly whenever another process needs a
    core (ssdlite320 here: 70 ms on 1 thread, 0.4-4.5 s on 2 while another process ran).
    Returns the thread count in use.
    """
    import torch

    forced = os.environ.get("DETVIEWER_THREADS", "").strip()
    if forced.isdigit() and int(forced) > 0:
        torch.set_num_threads(int(forced))
    elif not os.environ.get("OMP_NUM_THREADS") and torch.get_num_threads() == (os.cpu_count() or 1):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    return torch.get_num_threads()


def _registry_loader(name: str, weights: str, device: str, progress):
    from detviewer.detectors.registry import load_detector

    return load_detector(name, weights=weights, device=device, progress=progress)


def _registry_lister() -> list:
    from detviewer.detectors.registry import available_models

    return list(available_models())


class InferenceWorker(QObject):
    """Runs ``loader(...)`` and ``detector.infer(frame)`` off the GUI thread.

    loader(name, weights, device, progress) -> Detector; lister() -> list of ModelInfo.
    Both default to ``detviewer.detectors.registry`` (imported in the worker thread, so the
    window never waits for torch).
    """

    result_ready = Signal(object)  # InferenceResult
    model_progress = Signal(object, str)  # fraction 0..1 or None, message
    model_loaded = Signal(object)  # LoadedModel
    model_failed = Signal(str)  # one sentence
    models_listed = Signal(object)  # list[ModelInfo]

    def __init__(self, loader: Callable | None = None, lister: Callable | None = None) -> None:
        super().__init__()
        self._loader = loader or _registry_loader
        self._lister = lister or _registry_lister
        self._cond = threading.Condition()
        self._frame: tuple[int, int, Frame, float] | None = None
        self._model_request: ModelRequest | None = None
        self._stopping = False
        self._next_id = 0
        self._last_job: tuple[int, Frame] | None = None
        self.detector = None
        self.busy = False  # inside detector.infer or a model load
        self.torch_threads = 0  # intra-op threads of this worker thread (0: not configured)
        self.calls = 0  # detector.infer calls (tests check sliders never re-run the model)

    # -- called from any thread --------------------------------------------------------------
    def submit(self, frame: Frame, generation: int = 0) -> int:
        """Queue ``frame`` (replacing any frame still waiting); returns its request id."""
        with self._cond:
            self._next_id += 1
            self._frame = (self._next_id, generation, frame, time.perf_counter())
            self._cond.notify_all()
            return self._next_id

    def request_model(self, request: ModelRequest) -> None:
        """Load a detector (replacing any load request still waiting)."""
        with self._cond:
            self._model_request = request
            self._cond.notify_all()

    def stop(self) -> None:
        """Ask the loop to end after the current step; frames still waiting are dropped."""
        with self._cond:
            self._stopping = True
            self._frame = None
            self._model_request = None
            self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the worker thread -------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        self._list_models()
        while True:
            with self._cond:
                while not self._stopping and self._frame is None and self._model_request is None:
                    self._cond.wait()
                if self._stopping:
                    break
                request, self._model_request = self._model_request, None
                job = None
                if request is None:
                    job, self._frame = self._frame, None
            if request is not None:
                self._load(request)
            elif job is not None:
                self._infer(*job)
        self._close_detector()

    def _list_models(self) -> None:
        try:
            models = self._lister()
        except Exception:  # the list is a convenience; loading by name still works
            models = []
        self.models_listed.emit(models)

    def _progress(self, fraction, message: str) -> None:
        self.model_progress.emit(fraction, str(message))

    def _load(self, request: ModelRequest) -> None:
        self.busy = True
        try:
            self._load_now(request)
        finally:
            self.busy = False

    def _load_now(self, request: ModelRequest) -> None:
        self._close_detector()
        if self._loader is _registry_loader:  # the real, torch-based detectors
            self.torch_threads = configure_torch_threads()
        start = time.perf_counter()
        note = ""
        try:
            if request.name == DEFAULT_MODEL:
                detector, weights, note = self._load_default(request.device)
            else:
                self._progress(None, f"Loading {request.name}…")
                detector = self._loader(request.name, request.weights, request.device, self._progress)
                weights = request.weights
        except DetviewerError as exc:
            self.model_failed.emit(str(exc))
            return
        except Exception as exc:  # a bug in an adapter must not kill the window
            self.model_failed.emit(f"Could not load {request.name}: {type(exc).__name__}: {exc}.")
            return
        if weights == "none" and not note:
            note = "untrained model: random weights, its boxes mean nothing"
        self.detector = detector
        self._warm_up_replay_imports()
        self._rerun_last_frame()
        self.model_loaded.emit(LoadedModel(
            name=getattr(detector, "name", request.name) or request.name, weights=weights,
            device=str(getattr(detector, "device", "cpu")), class_names=tuple(getattr(detector, "class_names", ())),
            capabilities=frozenset(getattr(detector, "capabilities", ())),
            load_ms=(time.perf_counter() - start) * 1e3, note=note,
        ))

    def _load_default(self, device: str):
        """The first demo model that loads, else an untrained FALLBACK_MODEL (with a note)."""
        for name in DEMO_CHOICES:
            try:
                self._progress(None, f"Loading {name}…")
                return self._loader(name, "default", device, self._progress), "default", ""
            except DetviewerError:
                continue
        self._progress(None, f"Loading {FALLBACK_MODEL} (untrained)…")
        detector = self._loader(FALLBACK_MODEL, "none", device, self._progress)
        return detector, "none", "untrained model (no demo model shipped yet): its boxes mean nothing"

    def _rerun_last_frame(self) -> None:
        # The frame on screen was answered by the previous model (or none): answer it again.
        # A frame that waited for the model counts its latency from now, not from its submission.
        with self._cond:
            if self._frame is not None:
                request_id, generation, frame, _ = self._frame
                self._frame = (request_id, generation, frame, time.perf_counter())
            elif self._last_job is not None:
                self._next_id += 1
                generation, frame = self._last_job
                self._frame = (self._next_id, generation, frame, time.perf_counter())

    @staticmethod
    def _warm_up_replay_imports() -> None:
        # Import the NMS replay here so the GUI thread never blocks on an import lock later.
        try:
            import detviewer.ops.nms  # noqa: F401
        except ImportError:
            pass

    def _infer(self, request_id: int, generation: int, frame: Frame, submitted: float) -> None:
        self._last_job = (generation, frame)
        detector = self.detector
        inference, error, infer_ms = None, "", 0.0
        if detector is not None:
            self.busy = True
            start = time.perf_counter()
            try:
                self.calls += 1
                inference = detector.infer(frame.image)
                if hasattr(inference, "request_id"):
                    inference = _with_request_id(inference, request_id)
            except DetviewerError as exc:
                error = str(exc)
            except Exception as exc:  # the detector's own bug: one message, keep running
                where = frame.path or frame.source_id
                error = f"{getattr(detector, 'name', 'The detector')} failed on {where}: {type(exc).__name__}: {exc}"
            finally:
                self.busy = False
            infer_ms = (time.perf_counter() - start) * 1e3
        if self._stopping:
            return
        self.result_ready.emit(InferenceResult(
            request_id=request_id, generation=generation, frame=frame, inference=inference, error=error,
            latency_ms=(time.perf_counter() - submitted) * 1e3, infer_ms=infer_ms, submitted=submitted,
        ))

    def _close_detector(self) -> None:
        detector, self.detector = self.detector, None
        if detector is not None:
            try:
                detector.close()
            except Exception:
                pass


def _with_request_id(inference, request_id: int):
    from dataclasses import replace

    try:
        return replace(inference, request_id=request_id)
    except TypeError:
        return inference


class WorkerThread:
    """A worker moved to its own QThread, with a bounded shutdown."""

    def __init__(self, worker: InferenceWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("inference")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)

    def start(self) -> None:
        self.thread.start()

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Stop the worker and its thread; True if the thread ended within ``timeout_ms``."""
        self.worker.stop()
        self.thread.quit()
        finished = self.thread.wait(timeout_ms)
        if not finished:
            _ORPHANS.append(self)  # keep it alive: destroying a running QThread aborts
        return bool(finished)


#: Worker threads that did not stop in time (a model forward cannot be interrupted);
#: ``launch.run`` ends the process without destroying them.
_ORPHANS: list[WorkerThread] = []


def orphaned_threads() -> list[WorkerThread]:
    return [w for w in _ORPHANS if w.thread.isRunning()]
