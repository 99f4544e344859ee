"""Each image's size for a dataset: from the COCO file's ``width`` / ``height`` when it gives them, else from the
image file's header (EXIF rotation applied, as detviewer shows the image). Nothing is decoded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from detviewer.io.annotations import read_json
from detviewer.io.dataset_types import Dataset, image_size

__all__ = ["dataset_image_sizes"]


def _coco_sizes(dataset: Dataset) -> dict[int, tuple[int, int]]:
    """image id -> (h, w) from the COCO file's "images" entries that have positive integer sizes."""
    data = read_json(dataset.source)
    out: dict[int, tuple[int, int]] = {}
    for entry in data.get("images", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict):
            continue
        fields: tuple[Any, Any, Any] = (entry.get("id"), entry.get("width"), entry.get("height"))  # JSON values
        image_id, w, h = fields
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (image_id, w, h)) and w > 0 and h > 0:
            out[int(image_id)] = (int(h), int(w))
    return out


def dataset_image_sizes(dataset: Dataset, progress: Callable[[int, int], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[str]]:
    """(I, 2) int64 (height, width) of every image of ``dataset`` (-1 where unknown), and one warning sentence
    when some sizes could not be read. progress(done, total) while headers are read; should_stop() is polled
    between files (the sizes not read stay -1)."""
    sizes = np.full((dataset.num_images, 2), -1, np.int64)
    if dataset.format == "coco" and dataset.source.suffix.lower() == ".json":
        known = _coco_sizes(dataset)
        for i, image_id in enumerate(dataset.gt.image_ids.tolist()):
            sizes[i] = known.get(int(image_id), (-1, -1))
    missing = np.flatnonzero(sizes[:, 0] < 0)
    for done, i in enumerate(missing.tolist(), 1):
        if should_stop is not None and should_stop():
            break
        wh = image_size(dataset.image_paths[i]) if dataset.image_paths[i].is_file() else None
        if wh is not None:
            sizes[i] = (wh[1], wh[0])
        if progress is not None:
            progress(done, len(missing))
    unknown = np.flatnonzero(sizes[:, 0] < 0)
    warnings = []
    if len(unknown):
        warnings.append(f"{len(unknown)} of the {dataset.num_images} images have no size in {dataset.source.name} "
                        f"and could not be read (first: {dataset.image_paths[unknown[0]]}); their objects are "
                        f"left out.")
    return sizes, warnings
