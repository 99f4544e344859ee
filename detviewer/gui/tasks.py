"""The worker's task runner: work that needs no detector and must not run on the GUI thread.

Decoding an image, preparing an expensive view input (decoding every anchor, Selective Search) and
writing exports run here, one at a time, in their own thread. A task in a named ``slot`` replaces the one
still waiting in that slot and asks a running one to stop ("latest wins": flipping through images
decodes only the last one asked for); tasks without a slot run in order. Results and progress come back
as signals carrying the task.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from detviewer.gui.jobs import Job, JobCancelled, JobContext, JobResult, Progress, execute

__all__ = ["TaskRunner", "Task", "TaskContext", "TaskResult", "TaskCancelled"]

#: The runner's work is the one job type (gui.jobs); these names say which thread runs it.
Task, TaskContext, TaskResult, TaskCancelled = Job, JobContext, JobResult, JobCancelled


class TaskRunner(QObject):
    done = Signal(object)  # JobResult
    progress = Signal(object, object)  # Job, Progress

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._cancelled: set[int] = set()
        self._running: Job | None = None
        self._stopping = False

    # -- called from any thread --------------------------------------------------------------
    def post(self, task: Job) -> Job:
        with self._cond:
            if task.slot is not None:
                for old in [t for t in self._queue if t.slot == task.slot]:
                    self._queue.remove(old)
                if self._running is not None and self._running.slot == task.slot:
                    self._cancelled.add(id(self._running))
            self._queue.append(task)
            self._cond.notify_all()
        return task

    def cancel(self, task: Job) -> None:
        with self._cond:
            if task in self._queue:
                self._queue.remove(task)
                self.done.emit(JobResult(task, cancelled=True))
            elif self._running is task:
                self._cancelled.add(id(task))

    def is_cancelled(self, task: Job) -> bool:
        return self._stopping or id(task) in self._cancelled

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._queue)

    # -- the runner thread -------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._queue:
                    self._cond.wait()
                if self._stopping:
                    break
                task = self._running = self._queue.popleft()
            result = execute(task, JobContext(task, self._cancelled_check(task), self._report))
            with self._cond:
                self._running = None
                self._cancelled.discard(id(task))
            if not self._stopping:
                self.done.emit(result)

    def _cancelled_check(self, task: Job) -> Callable[[], bool]:
        return lambda: self.is_cancelled(task)

    def _report(self, job: Job, progress: Progress) -> None:
        self.progress.emit(job, progress)
