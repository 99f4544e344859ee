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
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

from detviewer.gui.worker import failure_sentence

__all__ = ["Task", "TaskContext", "TaskResult", "TaskRunner", "TaskCancelled"]


class TaskCancelled(Exception):
    """Raised by ``TaskContext.check`` inside a task that was cancelled or replaced."""


@dataclass(frozen=True, eq=False)
class Task:
    """run(context) -> value, in the runner's thread. key: what it computes (for the caller to match)."""

    key: Any
    run: Callable[["TaskContext"], Any]
    slot: str | None = None
    label: str = "the task"


@dataclass(frozen=True, eq=False)
class TaskResult:
    task: Task
    value: Any = None
    error: str = ""
    cancelled: bool = False


class TaskContext:
    """Handed to a running task: report progress, and see whether it should stop."""

    def __init__(self, runner: "TaskRunner", task: Task) -> None:
        self._runner, self._task = runner, task

    @property
    def cancelled(self) -> bool:
        return self._runner.is_cancelled(self._task)

    def check(self) -> None:
        """Raise TaskCancelled when the task should stop (call it between units of work)."""
        if self.cancelled:
            raise TaskCancelled()

    def progress(self, fraction: float | None, text: str = "") -> None:
        self._runner.progress.emit(self._task, -1.0 if fraction is None else float(fraction), text)


class TaskRunner(QObject):
    done = Signal(object)  # TaskResult
    progress = Signal(object, float, str)  # task, fraction (-1: unknown), text

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._queue: deque[Task] = deque()
        self._cancelled: set[int] = set()
        self._running: Task | None = None
        self._stopping = False

    # -- called from any thread --------------------------------------------------------------
    def post(self, task: Task) -> Task:
        with self._cond:
            if task.slot is not None:
                for old in [t for t in self._queue if t.slot == task.slot]:
                    self._queue.remove(old)
                if self._running is not None and self._running.slot == task.slot:
                    self._cancelled.add(id(self._running))
            self._queue.append(task)
            self._cond.notify_all()
        return task

    def cancel(self, task: Task) -> None:
        with self._cond:
            if task in self._queue:
                self._queue.remove(task)
                self.done.emit(TaskResult(task, cancelled=True))
            elif self._running is task:
                self._cancelled.add(id(task))

    def is_cancelled(self, task: Task) -> bool:
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
            result = self._execute(task)
            with self._cond:
                self._running = None
                self._cancelled.discard(id(task))
            if not self._stopping:
                self.done.emit(result)

    def _execute(self, task: Task) -> TaskResult:
        try:
            value = task.run(TaskContext(self, task))
        except TaskCancelled:
            return TaskResult(task, cancelled=True)
        except BaseException as exc:  # noqa: BLE001 - a failing task is one sentence, the runner goes on
            return TaskResult(task, error=failure_sentence(task.label[:1].upper() + task.label[1:], exc))
        if self.is_cancelled(task):
            return TaskResult(task, cancelled=True)
        return TaskResult(task, value=value)
