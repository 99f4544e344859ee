"""Run a detector over every image of a dataset, through the per-image cache (Qt-free).

``run_dataset(detector, dataset, cache, progress, should_stop)`` is what the window's worker thread and
``detviewer eval --model`` call: for each image it reuses the cached answer when the cache holds one for
this model, weights and image content, else loads the image, runs ``detector.infer`` once and stores
detections + NMS candidates. A failing image is one sentence and the run goes on; ``should_stop()`` is
polled between images (a forward pass is never interrupted). The detector runs under an evaluation protocol
(``evaluation.protocols``: its own framework's unless one is given), never under the window's display
threshold, and the cache keeps each protocol's answers apart.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.errors import DetviewerError
from detviewer.io.dataset_types import Dataset
from detviewer.io.prediction_cache import PredictionCache, file_hash
from detviewer.io.predictions import Predictions

__all__ = ["DatasetRun", "run_dataset", "label_to_class_index", "detection_rows", "concat_rows"]

#: progress(done, total, eta_s): eta_s is None until one image has been computed.
RunProgress = Callable[[int, int, "float | None"], None]


@dataclass(frozen=True, eq=False)
class DatasetRun:
    """predictions over the dataset; failures: (image index, sentence); computed / cached image
    counts; seconds of wall time; stopped: should_stop() ended the run early (the images not reached
    have no predictions); label_map: model label -> dataset class index; protocol: the evaluation protocol's
    name (``evaluation.protocols.Protocol.name``)."""

    predictions: Predictions
    failures: tuple[tuple[int, str], ...]
    computed: int
    cached: int
    seconds: float
    stopped: bool
    label_map: dict[int, int]
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


def run_dataset(detector, dataset: Dataset, cache: PredictionCache | None, progress: RunProgress | None = None,
                should_stop: Callable[[], bool] | None = None, load_image=None, protocol=None) -> DatasetRun:
    """Detections for every image of ``dataset`` under ``protocol`` (an ``evaluation.protocols.Protocol``;
    default: ``protocol_for(detector)``, the model's own framework's); see ``_run_dataset``."""
    from detviewer.evaluation.protocols import protocol_for

    protocol = protocol if protocol is not None else protocol_for(detector)
    if cache is not None:  # another protocol's detections must never be read back for this one
        cache = _protocol_cache(cache, protocol.name)
    evaluating = getattr(detector, "evaluating", None)  # test doubles may not derive from Detector
    with evaluating(protocol.settings) if evaluating is not None else contextlib.nullcontext():
        run = _run_dataset(detector, dataset, cache, progress, should_stop, load_image)
    return replace(run, protocol=protocol.name)


def _protocol_cache(cache: PredictionCache, protocol: str) -> PredictionCache:
    """The same cache with its folder keyed by ``protocol`` too (``<model>-<weights>@<protocol>``)."""
    import copy

    keyed = copy.copy(cache)
    keyed.folder = cache.folder.with_name(f"{cache.folder.name}@{protocol}")
    return keyed


def _run_dataset(detector, dataset: Dataset, cache: PredictionCache | None, progress: RunProgress | None = None,
                 should_stop: Callable[[], bool] | None = None, load_image=None) -> DatasetRun:
    """Detections for every image of ``dataset`` (see the module docstring).

    detector: a ``detectors.base.Detector``; its labels map to the dataset's classes by name (a model with
    none of the dataset's classes is a DetviewerError). load_image(path) -> (H, W, 3) uint8 RGB defaults to
    ``io.images.load_image``.
    """
    from detviewer.io.images import check_image_file

    if load_image is None:
        from detviewer.io.images import load_image
    label_map = label_to_class_index(detector.class_names, dataset)
    if not label_map:
        raise DetviewerError(f"None of {detector.name or 'the model'}'s classes is a class of {dataset.source.name} "
                             f"({', '.join(dataset.class_names[:5])}{', ...' if len(dataset.class_names) > 5 else ''}).")
    lut = np.full(max(label_map) + 2, -1, np.int64)
    for label, index in label_map.items():
        lut[label] = index
    total, start = dataset.num_images, time.perf_counter()
    parts, hashes, failures = [], [], []
    computed = reused = 0
    compute_seconds = 0.0
    stopped = False
    for i, path in enumerate(dataset.image_paths):
        if should_stop is not None and should_stop():
            stopped = True
            break
        try:
            check_image_file(path)  # a pipe or /dev/zero is refused before it is hashed (it would never end)
            digest = file_hash(path)
            hit = cache.load(digest) if cache is not None else None
            if hit is None:
                t0 = time.perf_counter()
                inference = detector.infer(load_image(path))
                compute_seconds += time.perf_counter() - t0
                computed += 1
                if cache is not None:
                    cache.save(digest, inference)
                detections = inference.detections
            else:
                reused, detections = reused + 1, hit.detections
            hashes.append(digest)
            parts.append(detection_rows(i, detections, lut))
        except Exception as exc:  # one image's failure is one sentence; the run goes on
            hashes.append(None)
            failures.append((i, _sentence(path, exc)))
        if progress is not None:
            left = total - i - 1
            eta = compute_seconds / computed * left if computed else None
            progress(i + 1, total, eta)
    hashes += [None] * (total - len(hashes))
    boxes = concat_rows(parts)
    predictions = Predictions(boxes=boxes, source=f"{detector.name} on {dataset.source.name}", cache=cache,
                              image_hashes=tuple(hashes))
    return DatasetRun(predictions, tuple(failures), computed, reused, time.perf_counter() - start, stopped,
                      label_map)


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
