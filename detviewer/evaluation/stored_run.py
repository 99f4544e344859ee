"""Open a run kept in the prediction store over a dataset, without decoding or hashing an image (Qt-free).

This is how the workspace reopens a run: the run's image hashes and detections come from the store in one
query (io.prediction_store.load_dataset_run), the candidates stay there and are read per image on demand.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.evaluation.run_dataset import DatasetRun, label_to_class_index
from detviewer.io.dataset_types import Dataset
from detviewer.io.prediction_store import PredictionStore
from detviewer.io.predictions import Predictions

__all__ = ["open_stored_run"]


def open_stored_run(store: PredictionStore, dataset: Dataset, dataset_run_id: int | None = None) -> DatasetRun | None:
    """The stored run over ``dataset`` (the newest when ``dataset_run_id`` is None) as a DatasetRun, or None
    when the store holds none or its image list does not match the dataset's size. Images whose entry is
    missing or implausible have no detections and a failure sentence (run the model to compute them)."""
    if dataset_run_id is None:
        latest = store.latest_dataset_run(str(dataset.source))
        if latest is None:
            return None
        dataset_run_id = latest[0]
    owner = store.dataset_run(dataset_run_id)
    described = store.run_info(owner[0], str(dataset.source)) if owner else None
    if described is None:
        return None
    info, class_names = described
    loaded = store.load_dataset_run(dataset_run_id, len(class_names))
    if loaded is None or len(loaded[0]) != dataset.num_images or info.run_id is None:
        return None
    hashes, counts, recs = loaded
    label_map = label_to_class_index(class_names, dataset)
    lut = np.full(max(label_map, default=0) + 2, -1, np.int64)
    for label, index in label_map.items():
        lut[label] = index
    labels = recs["label"]
    cls = lut[np.clip(labels, 0, len(lut) - 1)]
    cls[labels >= len(lut)] = -1
    image = np.repeat(np.arange(len(hashes), dtype=np.int64), counts)
    keep = cls >= 0
    if not keep.all():
        recs, cls, image = recs[keep], cls[keep], image[keep]
    xywh = recs["xyxy"].astype(np.float64)  # as run_dataset.detection_rows computes it, to the bit
    xywh[:, 2:] -= xywh[:, :2]
    boxes = DetectionBoxes(image_index=image, category_index=cls, xywh=xywh, scores=recs["score"].astype(np.float64))
    failures = tuple((i, f"{dataset.image_paths[i]}: not in the stored run; run the model to compute it.")
                     for i, h in enumerate(hashes) if h is None)
    predictions = Predictions(boxes=boxes, source=f"{info.model} on {dataset.source.name}",
                              cache=store.reader(info.run_id, len(class_names)), image_hashes=hashes)
    return DatasetRun(predictions, failures, 0, len(hashes) - len(failures), 0.0, False, label_map, (), info)
