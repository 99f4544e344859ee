"""One job type for both background threads: the inference worker (jobs that need the detector) and the task
runner (decoding, view inputs, exports).

A ``Job`` is ``run(context) -> value``; its ``JobContext`` says whether it should stop, carries the detector (in
the worker; None in the runner) and reports typed ``Progress`` (numbers, never text to be parsed back). Both
threads answer with a ``JobResult`` and turn every failure into one sentence (``failure_sentence``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detviewer.errors import DetviewerError, first_line

__all__ = ["Job", "JobContext", "JobResult", "JobCancelled", "Progress", "execute", "failure_sentence"]


@dataclass(frozen=True)
class Progress:
    """fraction: 0..1 (None: unknown); done / total: units of work (images, steps; 0: not counted); eta_s: seconds
    left (None: unknown); text: a short line for a progress bar."""

    fraction: float | None = None
    done: int = 0
    total: int = 0
    eta_s: float | None = None
    text: str = ""

    @staticmethod
    def of(done: int, total: int, eta_s: float | None = None, text: str = "") -> Progress:
        return Progress(done / max(total, 1), int(done), int(total), None if eta_s is None else float(eta_s), text)


class JobCancelled(Exception):
    """Raised by ``JobContext.check`` inside a job that was cancelled or replaced."""


@dataclass(frozen=True, eq=False)
class Job:
    """run(context) -> value in a background thread. key: what it computes (for the caller to match the answer);
    label: for messages ("the anchors"); slot: latest wins in that slot (the task runner); needs_detector: runs in
    the worker, with ``context.detector``."""

    key: Any
    run: Callable[[JobContext], Any]
    label: str = "the job"
    slot: str | None = None
    needs_detector: bool = False


@dataclass(frozen=True, eq=False)
class JobResult:
    job: Job
    value: Any = None
    error: str = ""
    cancelled: bool = False


class JobContext:
    """Handed to a running job: its detector (worker) or None, whether it should stop, and its progress."""

    def __init__(self, job: Job, is_cancelled: Callable[[], bool], report: Callable[[Job, Progress], None],
                 detector: Any = None) -> None:
        self.job, self.detector = job, detector
        self._is_cancelled, self._report = is_cancelled, report

    @property
    def cancelled(self) -> bool:
        return self._is_cancelled()

    def check(self) -> None:
        """Raise JobCancelled when the job should stop (call it between units of work)."""
        if self.cancelled:
            raise JobCancelled()

    def progress(self, progress: Progress | float | None, text: str = "") -> None:
        """Report ``progress`` (a Progress, or a fraction with a text)."""
        if not isinstance(progress, Progress):
            progress = Progress(None if progress is None else float(progress), text=text)
        self._report(self.job, progress)


def failure_sentence(what: str, exc: BaseException) -> str:
    """One sentence for an exception raised by a detector or a job (its own sentence for ours)."""
    if isinstance(exc, DetviewerError):
        return str(exc)
    detail = first_line(exc) if str(exc).strip() else ""
    return f"{what} failed: {type(exc).__name__}{': ' + detail if detail else ''}."


def execute(job: Job, context: JobContext) -> JobResult:
    """Run ``job``: its value, its failure as one sentence (SystemExit included), or cancelled."""
    try:
        value = job.run(context)
    except JobCancelled:
        return JobResult(job, cancelled=True)
    except BaseException as exc:  # noqa: BLE001 - a failing job is one sentence, the thread goes on
        return JobResult(job, error=failure_sentence(job.label[:1].upper() + job.label[1:], exc))
    if context.cancelled:
        return JobResult(job, cancelled=True)
    return JobResult(job, value=value)
