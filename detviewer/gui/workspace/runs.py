"""Running the loaded model over a dataset in the worker (with progress, ETA and cancel), or importing a
results file written by any engine; each answer becomes one run (gui.session.Run: side "A" or "B", with its
provenance) of the session's dataset."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from detviewer.core.run_info import RunInfo
from detviewer.errors import DetviewerError
from detviewer.gui.background import BackgroundWork
from detviewer.gui.jobs import Job, Progress
from detviewer.gui.session import Run

__all__ = ["DatasetRunner", "RunProgress", "cache_root", "eta_text"]


def cache_root() -> Path:
    """The prediction store's folder: the same as the CLI's (io.prediction_store.default_store_dir)."""
    from detviewer.io.prediction_store import default_store_dir

    return default_store_dir()


def _on_cluster(detector: Any, model_name: str, weights: str, dataset: Any, store: Any, address: str,
                progress: Any, should_stop: Any) -> Any:
    """A dataset run on the Ray cluster at ``address``, in the worker thread (Ray's calls can block while a head is
    gone: evaluation.ray_run answers with one sentence within about 15 s instead)."""
    from functools import partial

    from detviewer.detectors.registry import load_detector
    from detviewer.evaluation.ray_cluster import connect
    from detviewer.evaluation.ray_dataset import run_dataset_on_cluster

    resolved = connect(address)
    factory = partial(load_detector, model_name, weights=weights, device="auto")
    run, _cluster = run_dataset_on_cluster(detector, dataset, store, factory, address=resolved, progress=progress,
                                           should_stop=should_stop)
    return run


@dataclass(frozen=True)
class RunProgress:
    """side: "A" or "B"; done / total images; eta_s: seconds left (-1: unknown)."""

    side: str
    done: int
    total: int
    eta_s: float


class DatasetRunner(QObject):
    """progress(RunProgress); finished(Run, warnings: list[str]); failed(side, sentence)."""

    progress = Signal(object)
    finished = Signal(object, object)
    failed = Signal(str, str)

    def __init__(self, background: BackgroundWork, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.background = background
        self._stop = threading.Event()
        self.running: str | None = None
        self._job: Job | None = None
        background.progress.connect(self._on_progress)

    def run_model(self, side: str, dataset: Any, model_name: str, weights: str, cache_dir: Path | None,
                  info: RunInfo, ray_address: str = "") -> None:
        """Run the loaded detector over every image of ``dataset`` as run ``side`` (answers kept in the prediction
        store are reused). ray_address: "" runs here; ``auto`` or ``host:port`` runs the forward passes on that Ray
        cluster (evaluation.ray_dataset: the same numbers, stored as they come)."""
        if self.running is not None:
            raise DetviewerError("A dataset run is already going; cancel it first.")
        root = cache_dir or cache_root()
        self._stop.clear()
        self.running = side
        stop = self._stop

        def run(context: Any) -> Any:
            from detviewer.evaluation.run_dataset import run_dataset

            def progress(done: int, total: int, eta: float | None) -> None:
                context.progress(Progress.of(done, total, eta))

            from detviewer.io.prediction_store import PredictionStore

            store, should_stop = PredictionStore.open(root), lambda: stop.is_set() or context.cancelled
            if not ray_address:
                return run_dataset(context.detector, dataset, store, progress, should_stop)
            return _on_cluster(context.detector, model_name, weights, dataset, store, ray_address, progress,
                               should_stop)

        self._job = self.background.submit(
            Job(("dataset-run", side), run, f"running {model_name} on {dataset.source.name}", needs_detector=True),
            lambda value, error: self._on_done(side, info, value, error))

    def cancel(self) -> None:
        self._stop.set()

    def import_results(self, side: str, path: str | Path, dataset: Any, info: RunInfo) -> None:
        """Read a COCO results JSON (any engine) in the task runner."""
        from detviewer.io.predictions import load_predictions

        self.background.task(("import-results", side, str(path)), lambda _context: load_predictions(path, dataset),
                             f"reading {Path(path).name}",
                             lambda value, error: self._on_imported(side, info, value, error))

    def _on_progress(self, job: Job, progress: Progress) -> None:
        if job is self._job and self.running is not None:
            eta = -1.0 if progress.eta_s is None else progress.eta_s
            self.progress.emit(RunProgress(self.running, progress.done, progress.total, eta))

    def _on_done(self, side: str, info: RunInfo, run: Any, error: str) -> None:
        self.running, self._job = None, None
        if error:
            self.failed.emit(side, error)
        elif run.stopped:
            self.failed.emit(side, f"The run of {info.model} was cancelled after {run.computed + run.cached} images.")
        else:
            self.finished.emit(Run(side, info, run.predictions, run.label_map),
                               [text for _, text in run.failures] + list(run.warnings))

    def _on_imported(self, side: str, info: RunInfo, predictions: Any, error: str) -> None:
        if error:
            self.failed.emit(side, error)
        else:
            self.finished.emit(Run(side, info, predictions, None), list(predictions.warnings))


def eta_text(done: int, total: int, eta: float) -> str:
    """"37 / 120 images · about 1 min 10 s left"."""
    text = f"{done} / {total} images"
    if eta >= 0 and done < total:
        minutes, seconds = divmod(int(round(eta)), 60)
        text += f" · about {minutes} min {seconds} s left" if minutes else f" · about {seconds} s left"
    return text
