"""Running the loaded model over a dataset in the worker (with progress, ETA and cancel), or importing a
results file written by any engine; each answer becomes one side ("A" or "B") of the workspace's session."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from detviewer.errors import DetviewerError

__all__ = ["DatasetRunner", "cache_root", "eta_text"]


def cache_root() -> Path:
    """The prediction store's folder: the same as the CLI's (io.prediction_store.default_store_dir)."""
    from detviewer.io.prediction_store import default_store_dir

    return default_store_dir()


class DatasetRunner(QObject):
    """progress(side, done, total, eta seconds or -1); finished(side, predictions, name, failures, label map or
    None); failed(side, sentence). The label map (model label -> dataset class) lets NMS be replayed later."""

    progress = Signal(str, int, int, float)
    finished = Signal(str, object, str, object, object)
    failed = Signal(str, str)

    def __init__(self, background, parent=None) -> None:
        super().__init__(parent)
        self.background = background
        self._stop = threading.Event()
        self.running: str | None = None
        background.worker.job_progress.connect(self._on_progress)

    def run_model(self, side: str, dataset, model_name: str, weights: str, cache_dir: Path | None = None) -> None:
        """Run the loaded detector over every image of ``dataset`` (answers kept in the store are reused)."""
        if self.running is not None:
            raise DetviewerError("A dataset run is already going; cancel it first.")
        root = cache_dir or cache_root()
        self._stop.clear()
        self.running = side
        key = ("dataset-run", side)
        emit = self.background.worker.job_progress.emit

        def run(detector):
            from detviewer.evaluation.run_dataset import run_dataset

            def progress(done: int, total: int, eta) -> None:
                emit(key, done / max(total, 1), f"{done}/{total}/{-1.0 if eta is None else float(eta)}")

            from detviewer.io.prediction_store import PredictionStore

            return run_dataset(detector, dataset, PredictionStore.open(root), progress, self._stop.is_set)

        self.background.with_detector(key, run, f"running {model_name} on {dataset.source.name}",
                                      lambda value, error: self._on_done(side, model_name, value, error))

    def cancel(self) -> None:
        self._stop.set()

    def import_results(self, side: str, path, dataset) -> None:
        """Read a COCO results JSON (any engine) in the task runner."""
        from detviewer.io.predictions import load_predictions

        self.background.task(("import-results", side, str(path)), lambda _context: load_predictions(path, dataset),
                             f"reading {Path(path).name}",
                             lambda value, error: self._on_imported(side, Path(path).name, value, error))

    def _on_progress(self, key, fraction: float, text: str) -> None:
        if isinstance(key, tuple) and key[:1] == ("dataset-run",):
            done, total, eta = text.split("/")
            self.progress.emit(key[1], int(done), int(total), float(eta))

    def _on_done(self, side: str, model_name: str, run, error: str) -> None:
        self.running = None
        if error:
            self.failed.emit(side, error)
        elif run.stopped:
            self.failed.emit(side, f"The run of {model_name} was cancelled after {run.computed + run.cached} images.")
        else:
            self.finished.emit(side, run.predictions, model_name,
                               [text for _, text in run.failures] + list(run.warnings), run.label_map)

    def _on_imported(self, side: str, name: str, predictions, error: str) -> None:
        if error:
            self.failed.emit(side, error)
        else:
            self.finished.emit(side, predictions, name, list(predictions.warnings), None)


def eta_text(done: int, total: int, eta: float) -> str:
    """"37 / 120 images · about 1 min 10 s left"."""
    text = f"{done} / {total} images"
    if eta >= 0 and done < total:
        minutes, seconds = divmod(int(round(eta)), 60)
        text += f" · about {minutes} min {seconds} s left" if minutes else f" · about {seconds} s left"
    return text


