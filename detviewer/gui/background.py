"""The one owner of background work: the inference worker (the only thread that touches a detector) and
the task runner it works beside (decoding, view inputs, exports). The window's session starts and stops both here.

Both run the one job type (gui.jobs.Job): ``submit`` sends a job that needs the detector to the worker and any
other to the runner; answers and typed progress come back in the GUI thread.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from detviewer.gui.jobs import Job, JobContext, JobResult, Progress
from detviewer.gui.tasks import TaskRunner
from detviewer.gui.worker import InferenceWorker, WorkerThread

__all__ = ["BackgroundWork", "Callback", "exit_after_shutdown", "inside_import", "preload_torch_first",
           "start_torch_preload"]

_exit_after_shutdown = False
_preload_torch = False


def exit_after_shutdown() -> None:
    """Say that the process ends (``os._exit``) right after the window's shutdown, as ``launch`` does: a thread
    inside an import is then asked to stop but not waited for (nothing can interrupt an import, and the
    process does not need it to end). A host application (pytest-qt) never calls this."""
    global _exit_after_shutdown
    _exit_after_shutdown = True


_waiting: list[BackgroundWork] = []


def preload_torch_first() -> None:
    """Say that the inference worker (which imports torch at once) starts only once torch's C++ libraries
    are loaded without the GIL (gui.native_preload), as ``launch`` does: the worker's own dlopen of them
    holds the GIL for seconds, and the window could not even be closed meanwhile. Tests never call this."""
    global _preload_torch
    _preload_torch = True


def start_torch_preload() -> None:
    """Load torch's C++ libraries on a daemon thread, then start the inference workers waiting for them (call
    it once the window is visible: the dynamic loader's lock, held by the preload, would delay the window's own
    library loads)."""
    from detviewer.gui.native_preload import preload_torch_libraries

    if not _preload_torch:
        return
    waiting = list(_waiting)
    _waiting.clear()
    loader = preload_torch_libraries()

    def then_start() -> None:
        if loader is not None:
            loader.join()
        for background in waiting:
            background._preloaded.emit()

    threading.Thread(target=then_start, name="torch-preload-wait", daemon=True).start()


def inside_import(worker: object) -> bool:
    """Whether the thread running ``worker.run`` is executing an import now (importlib's frames on its
    stack, below ``run``)."""
    run_code = getattr(getattr(type(worker), "run", None), "__code__", None)
    for frame in sys._current_frames().values():
        codes = []
        while frame is not None:
            codes.append(frame.f_code)
            frame = frame.f_back
        if run_code in codes:
            below = codes[:codes.index(run_code)]
            return any(code.co_filename.startswith("<frozen importlib") for code in below)
    return False

#: on_done(value, error sentence); a cancelled job calls nothing.
Callback = Callable[[Any, str], None]


class BackgroundWork(QObject):
    """worker: the InferenceWorker (its signals are public); runner: the TaskRunner; threads: the two
    WorkerThreads running them.

    ``progress(job, Progress)``: either thread's progress, delivered in the GUI thread.
    """

    progress = Signal(object, object)
    _preloaded = Signal()  # from the preload's daemon thread: start the inference worker (GUI thread)

    def __init__(self, loader: Callable | None = None, lister: Callable | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = InferenceWorker(loader=loader, lister=lister)
        self.runner = TaskRunner()
        self.threads = [WorkerThread(self.worker, "inference"), WorkerThread(self.runner, "tasks")]
        self._callbacks: dict[int, tuple[Job, Callback]] = {}
        self._stopped = False
        # methods of ours: queued to the GUI thread
        self.worker.job_done.connect(self._on_done)
        self.runner.done.connect(self._on_done)
        self.worker.progress.connect(self._on_progress)
        self.runner.progress.connect(self._on_progress)

    def start(self) -> None:
        """Start both threads; once ``preload_torch_first`` was called, the inference worker only when
        ``start_torch_preload`` has loaded torch's C++ libraries."""
        self._stopped = False
        if not _preload_torch:
            for thread in self.threads:
                thread.start()
            return
        self.threads[1].start()
        self._preloaded.connect(self._start_worker)  # queued: emitted from the preload's thread
        _waiting.append(self)

    def _start_worker(self) -> None:
        if not self._stopped and not self.threads[0].thread.isRunning():
            self.threads[0].start()

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Stop both threads within one shared ``timeout_ms`` (both are asked first, then waited for; once
        ``exit_after_shutdown`` was called, not one inside an import); True when both ended."""
        deadline = time.monotonic() + timeout_ms / 1000
        self._stopped = True  # a worker still waiting for torch's preload never starts
        for thread in self.threads:
            thread.request_stop()
        return all([thread.shutdown(0 if _exit_after_shutdown and inside_import(thread.worker)
                                    else max(0.0, deadline - time.monotonic()) * 1000) for thread in self.threads])

    # -- requests -----------------------------------------------------------------------------
    def submit(self, job: Job, on_done: Callback) -> Job:
        """Run ``job`` in the worker (``needs_detector``: after its waiting requests) or in the task runner
        (``slot``: latest wins); ``on_done(value, error)`` in the GUI thread, not for a cancelled job."""
        self._callbacks[id(job)] = (job, on_done)
        if job.needs_detector:
            self.worker.run_job(job)
        else:
            self.runner.post(job)
        return job

    def with_detector(self, key: Any, run: Callable[[Any], Any], label: str, on_done: Callback) -> Job:
        """Run ``run(detector)`` in the worker after its waiting requests; ``on_done`` in the GUI thread."""
        return self.submit(Job(key, lambda context: run(context.detector), label, needs_detector=True), on_done)

    def task(self, key: Any, run: Callable[[JobContext], Any], label: str, on_done: Callback,
             slot: str | None = None) -> Job:
        """Run ``run(context)`` in the task runner (``slot``: latest wins); ``on_done`` in the GUI thread."""
        return self.submit(Job(key, run, label, slot=slot), on_done)

    def cancel(self, job: Job) -> None:
        (self.worker if job.needs_detector else self.runner).cancel(job)

    @property
    def busy(self) -> bool:
        return self.worker.busy or self.runner.busy

    @property
    def running(self) -> bool:
        """Both threads are running (tests check that a failure never ends one)."""
        return all(thread.thread.isRunning() for thread in self.threads)

    # -- answers ------------------------------------------------------------------------------
    def _on_progress(self, job: Job, progress: Progress) -> None:
        self.progress.emit(job, progress)

    def _on_done(self, result: JobResult) -> None:
        _, on_done = self._callbacks.pop(id(result.job), (None, None))
        if on_done is not None and not result.cancelled:
            on_done(result.value, result.error)
