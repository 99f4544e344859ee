"""A dataset run on a Ray cluster, written to the prediction store and returned exactly as a local run.

``run_dataset_on_cluster(detector, dataset, store, factory, address)`` is ``run_dataset`` with the forward passes
on the cluster's actors (evaluation.ray_run): the driver hashes every image, skips those the store already holds
for this run (a cancelled or broken run resumes where it stopped), streams the others to the actors and writes
each answer to the store as it comes (one transaction per image, so nothing is counted twice and a killed driver
loses only the images in flight). ``detector`` is the model loaded in the driver (on the CPU) for the run's
identity and class names only; the actors build their own with ``factory``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from detviewer.core.types import Detections, Inference
from detviewer.evaluation.protocols import Protocol
from detviewer.evaluation.ray_run import ClusterRun, DetectorFactory, run_on_cluster
from detviewer.evaluation.run_dataset import (
    DatasetRun,
    RunProgress,
    _register,
    _sentence,
    class_lookup,
    concat_rows,
    detection_rows,
)
from detviewer.io.content_hash import content_hash
from detviewer.io.dataset_types import Dataset
from detviewer.io.prediction_store import PredictionStore
from detviewer.io.predictions import Predictions

__all__ = ["run_dataset_on_cluster"]


def run_dataset_on_cluster(detector, dataset: Dataset, store: PredictionStore | None, factory: DetectorFactory, *,
                           address: str, device: str = "auto", workers: int | None = None,
                           progress: RunProgress | None = None, should_stop: Callable[[], bool] | None = None,
                           protocol: Protocol | str | None = None) -> tuple[DatasetRun, ClusterRun | None]:
    """(the run as ``run_dataset`` returns it, the cluster's own figures or None when nothing was computed).

    protocol: as ``run_dataset``'s (default: the model's own framework's); the driver's detector (for the run's
    identity) and every actor's run under its settings."""
    from detviewer.evaluation.protocols import get_protocol, protocol_for

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    protocol = protocol if protocol is not None else protocol_for(detector)
    with detector.evaluating(protocol.settings):
        run, cluster = _on_cluster(detector, dataset, store, factory, address, device, workers, progress, should_stop,
                                   protocol)
    return replace(run, protocol=protocol.name), cluster


def _on_cluster(detector, dataset: Dataset, store: PredictionStore | None, factory: DetectorFactory, address: str,
                device: str, workers: int | None, progress: RunProgress | None,
                should_stop: Callable[[], bool] | None, protocol: Protocol) -> tuple[DatasetRun, ClusterRun | None]:
    lut, label_map = class_lookup(detector, dataset)
    total, start = dataset.num_images, time.perf_counter()
    warnings: list[str] = []
    info = _register(detector, dataset, store, protocol.name, None, warnings)
    # the run's row in a usable store, or None: then every image is computed and nothing is stored
    stored = (store, info.run_id) if store is not None and info is not None and info.run_id is not None else None
    num_labels = len(detector.class_names)
    hashes: list[str | None] = [None] * total
    detections: dict[int, Detections] = {}
    failures: dict[int, str] = {}
    todo: list[tuple[int, Path]] = []
    for i, path in enumerate(dataset.image_paths):
        try:
            digest = hashes[i] = content_hash(path)
        except Exception as exc:  # noqa: BLE001 - one image's failure is one sentence; the run goes on
            failures[i] = _sentence(path, exc)
            continue
        hit = stored[0].get(stored[1], digest, num_labels=num_labels) if stored is not None else None
        if hit is None:
            todo.append((i, Path(path)))
        else:
            detections[i] = hit.detections
    reused, done = len(detections), [len(detections) + len(failures)]
    cluster_start = time.perf_counter()

    def on_answer(index: int, inference: Inference | None, error: str | None) -> None:
        if inference is None:
            failures[index] = error or f"{dataset.image_paths[index]}: no answer."
        else:
            detections[index] = inference.detections
            if stored is not None:
                stored[0].put(stored[1], hashes[index] or "", inference)
        done[0] += 1
        if progress is not None:
            computed = done[0] - reused
            seconds = time.perf_counter() - cluster_start
            left = total - done[0]
            progress(done[0], total, seconds / computed * left if computed else None)

    cluster = None
    if todo:
        cluster = run_on_cluster(factory, todo, on_answer, address=address, device=device, workers=workers,
                                 should_stop=should_stop, settings=protocol.settings)
    stopped = bool(cluster and cluster.stopped)
    parts = [detection_rows(i, detections[i], lut) for i in sorted(detections)]
    final_hashes = tuple(h if i in detections else None for i, h in enumerate(hashes))
    reader = None
    if stored is not None and stored[0].usable:
        if not stopped:
            stored[0].record_dataset(stored[1], str(dataset.source), list(final_hashes))
        reader = stored[0].reader(stored[1], num_labels)
    if store is not None and store.problem:
        warnings.append(store.problem)
    predictions = Predictions(boxes=concat_rows(parts), source=f"{detector.name} on {dataset.source.name}",
                              cache=reader, image_hashes=final_hashes)
    run = DatasetRun(predictions, tuple(sorted(failures.items())), len(detections) - reused, reused,
                     time.perf_counter() - start, stopped, label_map, tuple(dict.fromkeys(warnings)), info)
    return run, cluster

