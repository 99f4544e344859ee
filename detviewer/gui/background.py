"""The one owner of background work: the inference worker (the only thread that touches a detector) and
the task runner it works beside (decoding, view inputs, exports). The window's session starts and stops both here.

Both run the one job type (gui.jobs.Job): ``submit`` sends a job that needs the detector to the worker and any
other to the runner; answers and typed progress come back in the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from detviewer.gui.jobs import Job, JobContext, JobResult, Progress
from detviewer.gui.tasks import TaskRunner
from detviewer.gui.worker import InferenceWorker, WorkerThread

__all__ = ["BackgroundWork", "Callback"]

#: on_done(value, error sentence); a cancelled job calls nothing.
Callback = Callable[[Any, str], None]


class BackgroundWork(QObject):
    """worker: the InferenceWorker (its signals are public); runner: the TaskRunner; threads: the two
    WorkerThreads running them.

    ``progress(job, Progress)``: either thread's progress, delivered in the GUI thread.
    """

    progress = Signal(object, object)

    def __init__(self, loader: Callable | None = None, lister: Callable | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = InferenceWorker(loader=loader, lister=lister)
        self.runner = TaskRunner()
        self.threads = [WorkerThread(self.worker, "inference"), WorkerThread(self.runner, "tasks")]
        self._callbacks: dict[int, tuple[Job, Callback]] = {}
        for source in (self.worker, self.runner):
            # methods of ours: queued to the GUI thread
            getattr(source, "job_done" if source is self.worker else "done").connect(self._on_done)
            source.progress.connect(self._on_progress)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Stop both threads within one shared ``timeout_ms`` (both are asked first, then waited for);
        True when both ended."""
        deadline = time.monotonic() + timeout_ms / 1000
        for thread in self.threads:
            thread.request_stop()
        return all([thread.shutdown(max(0.0, deadline - time.monotonic()) * 1000) for thread in self.threads])

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
