"""Run a detector over every image of a dataset, through the prediction store (Qt-free).

``run_dataset(detector, dataset, store, progress, should_stop)`` is what the window's worker thread and
``detviewer eval --model`` call: for each image it reuses the stored answer when the store holds one for
this run (model, weights content, protocol, settings) and image content, else runs ``detector.infer``
once and stores detections + NMS candidates. A failing image is one sentence and the run goes on;
``should_stop()`` is polled between images (a forward pass is never interrupted). The detector runs under an
evaluation protocol (``evaluation.protocols``: its own framework's unless one is given), never under the
window's display threshold, and the protocol is part of the stored run's identity. A store problem is one
warning sentence in the result and changes nothing else: the images it does not hold are computed.

A prefetch thread reads, hashes, looks up and decodes the next images while the model runs on the current
one (hashing, OpenCV's and Pillow's decoders and torch's forward all release the GIL), so a run costs
about what its forward passes cost; at most :data:`PREFETCH` decoded images wait in memory.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.core.run_info import RunInfo
from detviewer.errors import DetviewerError
from detviewer.io.content_hash import content_hash
from detviewer.io.dataset_types import Dataset
from detviewer.io.images import check_image_file
from detviewer.io.prediction_store import PredictionStore
from detviewer.io.predictions import Predictions

__all__ = ["DatasetRun", "PREFETCH", "run_dataset", "label_to_class_index", "detection_rows", "concat_rows"]

#: progress(done, total, eta_s): eta_s is None until one image has been computed.
RunProgress = Callable[[int, int, "float | None"], None]
#: Decoded images the prefetch thread keeps ready ahead of the model.
PREFETCH = 3


@dataclass(frozen=True, eq=False)
class DatasetRun:
    """predictions over the dataset; failures: (image index, sentence); computed / cached image
    counts; seconds of wall time; stopped: should_stop() ended the run early (the images not reached
    have no predictions); label_map: model label -> dataset class index; warnings: sentences about the run
    that changed no number (the store could not be used); run_info: the run's provenance (None: not
    stored); protocol: the evaluation protocol's name (``evaluation.protocols.Protocol.name``)."""

    predictions: Predictions
    failures: tuple[tuple[int, str], ...]
    computed: int
    cached: int
    seconds: float
    stopped: bool
    label_map: dict[int, int]
    warnings: tuple[str, ...] = ()
    run_info: RunInfo | None = None
    protocol: str = ""

    @property
    def images_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 and self.computed else 0.0


def label_to_class_index(model_classes, dataset: Dataset) -> dict[int, int]:
    """Model label -> dataset class index, by class name (exact, else case-insensitive)."""
    exact = {n: i for i, n in enumerate(dataset.class_names)}
    folded = {n.casefold(): i for i, n in enumerate(dataset.class_names)}
    out = {}
    for label, name in enumerate(model_classes):
        if name in exact:
            out[label] = exact[name]
        elif name and name.casefold() in folded:
            out[label] = folded[name.casefold()]
    return out


def run_dataset(detector, dataset: Dataset, store: PredictionStore | None, progress: RunProgress | None = None,
                should_stop: Callable[[], bool] | None = None, load_image=None, protocol=None, *,
                run_info: RunInfo | None = None) -> DatasetRun:
    """Detections for every image of ``dataset`` under ``protocol`` (an ``evaluation.protocols.Protocol`` or its
    name; default: ``protocol_for(detector)``, the model's own framework's); see ``_run_dataset``."""
    from detviewer.evaluation.protocols import get_protocol, protocol_for

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    protocol = protocol if protocol is not None else protocol_for(detector)
    evaluating = getattr(detector, "evaluating", None)  # test doubles may not derive from Detector
    with evaluating(protocol.settings) if evaluating is not None else contextlib.nullcontext():
        run = _run_dataset(detector, dataset, store, progress, should_stop, load_image, protocol.name, run_info)
    return replace(run, protocol=protocol.name)


def _run_dataset(detector, dataset: Dataset, store: PredictionStore | None, progress: RunProgress | None = None,
                 should_stop: Callable[[], bool] | None = None, load_image=None, protocol: str = "default",
                 run_info: RunInfo | None = None) -> DatasetRun:
    """Detections for every image of ``dataset`` (see the module docstring).

    detector: a ``detectors.base.Detector``; its labels map to the dataset's classes by name (a model with
    none of the dataset's classes is a DetviewerError). load_image(path) -> (H, W, 3) uint8 RGB defaults to
    ``io.images.load_image``. protocol: the evaluation protocol's name (part of the run's identity: another
    protocol's answers are never read back for this one); run_info: the run's provenance when the caller knows it (else built from the detector: its weights file
    is hashed).
    """
    if load_image is None:
        from detviewer.io.images import load_image
    lut, label_map = class_lookup(detector, dataset)
    total, start = dataset.num_images, time.perf_counter()
    warnings: list[str] = []
    info = _register(detector, dataset, store, protocol, run_info, warnings)
    num_labels = len(detector.class_names)
    parts, hashes, failures = [], [], []
    computed = reused = 0
    compute_seconds = 0.0
    stopped = False
    feed = _Prefetch(dataset.image_paths, store if info is not None else None, info, num_labels, load_image)
    writer = _Writer(store, info.run_id) if info is not None else None
    try:
        for i, path in enumerate(dataset.image_paths):
            if should_stop is not None and should_stop():
                stopped = True
                break
            _, digest, hit, image, error = feed.next()
            try:
                if error is not None:
                    raise error
                if hit is None:
                    t0 = time.perf_counter()
                    inference = detector.infer(image)
                    compute_seconds += time.perf_counter() - t0
                    computed += 1
                    if writer is not None:
                        writer.add(digest, inference)
                    detections = inference.detections
                else:
                    reused, detections = reused + 1, hit.detections
                hashes.append(digest)
                parts.append(detection_rows(i, detections, lut))
            except Exception as exc:  # one image's failure is one sentence; the run goes on
                hashes.append(None)
                failures.append((i, _sentence(path, exc)))
            del image
            if progress is not None:
                left = total - i - 1
                eta = compute_seconds / computed * left if computed else None
                progress(i + 1, total, eta)
    finally:
        feed.close()
        if writer is not None:
            writer.close()
    hashes += [None] * (total - len(hashes))
    reader = None
    if info is not None and store.usable and not stopped:
        store.record_dataset(info.run_id, str(dataset.source), hashes)
    if info is not None and store.usable:
        reader = store.reader(info.run_id, num_labels)
    if store is not None and store.problem:
        warnings.append(store.problem)
    boxes = concat_rows(parts)
    predictions = Predictions(boxes=boxes, source=f"{detector.name} on {dataset.source.name}", cache=reader,
                              image_hashes=tuple(hashes))
    return DatasetRun(predictions, tuple(failures), computed, reused, time.perf_counter() - start, stopped,
                      label_map, tuple(dict.fromkeys(warnings)), info)


def class_lookup(detector, dataset: Dataset) -> tuple[np.ndarray, dict[int, int]]:
    """(lut, label_map): model label -> dataset class index as a lookup array (-1: not a dataset class) and as a
    dict. A model with none of the dataset's classes is a DetviewerError."""
    label_map = label_to_class_index(detector.class_names, dataset)
    if not label_map:
        raise DetviewerError(f"None of {detector.name or 'the model'}'s classes is a class of {dataset.source.name} "
                             f"({', '.join(dataset.class_names[:5])}{', ...' if len(dataset.class_names) > 5 else ''}).")
    lut = np.full(max(label_map) + 2, -1, np.int64)
    for label, index in label_map.items():
        lut[label] = index
    return lut, label_map


def _register(detector, dataset: Dataset, store: PredictionStore | None, protocol: str, run_info: RunInfo | None,
              warnings: list[str]) -> RunInfo | None:
    """The run's stored identity, or None when it is not stored (no store, the store is off, random weights)."""
    if store is None or not store.usable:
        return None
    from detviewer.detectors.weights_identity import run_settings, weights_hash

    if run_info is None:
        digest = weights_hash(detector)
        if not digest:
            warnings.append(f"{detector.name or 'The model'}'s weights have no file to identify them by (random or "
                            f"unknown weights): this run is not kept in the prediction store.")
            return None
        run_info = RunInfo(model=detector.name, weights_hash=digest, protocol=protocol, dataset=str(dataset.source),
                           input_size=getattr(detector, "input_size", None) if isinstance(
                               getattr(detector, "input_size", None), tuple) else None)
    return store.register(run_info, run_settings(detector), tuple(detector.class_names))


class _Writer:
    """A thread that writes computed answers into the store (one transaction each) while the model runs on.

    ``add`` encodes on the caller's thread (small arrays, no model state kept) and queues at most
    :data:`PREFETCH` answers; ``close`` writes what is queued and waits. A failed write switches the store
    off (its ``problem`` says why) and changes nothing else."""

    def __init__(self, store: PredictionStore, run_id: int) -> None:
        self._store, self._run_id = store, run_id
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)
        self._thread = threading.Thread(target=self._work, name="dataset-store-writer", daemon=True)
        self._thread.start()

    def add(self, digest: str, inference) -> None:
        from detviewer.io.prediction_records import encode

        if not self._store.usable:
            return
        try:
            values = encode(inference)
        except (ValueError, TypeError, MemoryError):
            return
        self._queue.put((digest, values))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            self._store.put_encoded(self._run_id, *item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class _Prefetch:
    """A thread that reads, hashes, looks up and decodes images ahead of the model, in order.

    ``next()`` -> (index, hash or None, StoredImage or None, image or None, exception or None)."""

    def __init__(self, paths, store: PredictionStore | None, info: RunInfo | None, num_labels: int, load_image):
        self._paths, self._store, self._info, self._num_labels, self._load = paths, store, info, num_labels, load_image
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="dataset-prefetch", daemon=True)
        self._thread.start()

    def _one(self, i: int, path):
        try:
            check_image_file(path)  # a pipe or /dev/zero is refused before it is hashed (it would never end)
            digest = content_hash(path)  # checks again on the open file, so a swap in between cannot hang it
            hit = None
            if self._store is not None:
                hit = self._store.get(self._info.run_id, digest, num_labels=self._num_labels)
            return i, digest, hit, (None if hit is not None else self._load(path)), None
        except Exception as exc:
            return i, None, None, None, exc

    def _work(self) -> None:
        for i, path in enumerate(self._paths):
            item = self._one(i, path)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set():
                return

    def next(self):
        return self._queue.get()

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


def _sentence(path, exc: Exception) -> str:
    if isinstance(exc, DetviewerError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{path} could not be read: {exc.strerror or exc}."
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{path}: the model failed: {type(exc).__name__}{': ' + detail if detail else ''}."


def detection_rows(image: int, detections, lut: np.ndarray):
    labels = np.asarray(detections.labels, np.int64)
    cls = np.where((labels >= 0) & (labels < len(lut)), lut[np.clip(labels, 0, len(lut) - 1)], -1)
    xyxy = np.asarray(detections.xyxy, np.float64)
    scores = np.asarray(detections.scores, np.float64)
    # background, classes the dataset lacks and non-finite boxes are left out
    keep = (cls >= 0) & np.isfinite(xyxy).all(axis=1) & np.isfinite(scores)
    xyxy = xyxy[keep]
    return (np.full(int(keep.sum()), image, np.int64), cls[keep], np.c_[xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]],
            scores[keep])


def concat_rows(parts) -> DetectionBoxes:
    if not parts:
        return DetectionBoxes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
    img, cls, xywh, scores = (np.concatenate(x) for x in zip(*parts))
    return DetectionBoxes(image_index=img, category_index=cls, xywh=xywh.reshape(-1, 4), scores=scores)
