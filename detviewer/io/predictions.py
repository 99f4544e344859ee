"""Predictions over a dataset: a COCO results JSON from any engine, or a detviewer run, as flat arrays.

``load_predictions(path, dataset)`` reads a COCO results list (``[{image_id, category_id, bbox
[x, y, w, h], score}, ...]``, as Ultralytics ``save_json``, Detectron2, MMDetection or ``detviewer
detect`` write it). Image ids are mapped to the dataset's images:

1. through an id -> file mapping when one is given: ``images`` beside the results in the same file
   (``{"images": [...], "annotations": [...]}``) or a ``<results>.images.json`` next to it (what
   ``detviewer detect`` writes); file names match by relative path, else by base name;
2. a string id matches an image's file stem (Ultralytics uses the stem when it is not a number);
3. an integer id matches the dataset's image id (COCO's id; for YOLO / VOC datasets the number in the
   file name when all are numbers, else 1..N in file order).

Categories: a result's ``category_name`` (or the name the mapping file's or the results dict's
``categories`` list gives its id; ``detviewer detect`` writes both) matches the dataset's class of that name,
and one sentence says so when the ids differ; results without a name keep their ids, which must then be the
dataset's (COCO's ids; YOLO: class + 1, as Ultralytics writes them; VOC: 1..K, alphabetical unless a
classes.txt says otherwise). Detections naming an unknown image or category are left out with one warning
sentence each kind.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.errors import AnnotationError
from detviewer.io import coco_fields as fields
from detviewer.io.annotations import read_json
from detviewer.io.coco_results import categories_by_name, row_category_names
from detviewer.io.dataset_types import Dataset
from detviewer.io.prediction_records import StoredImage
from detviewer.io.prediction_store import RunReader

__all__ = ["Predictions", "load_predictions", "predictions_from_list", "mapping_path"]


@dataclass(frozen=True, eq=False)
class Predictions:
    """Detections over a dataset: boxes (indices into ``dataset.gt``'s image and category lists).

    With a model run kept in the prediction store, ``cache`` (the run's reader) and ``image_hashes`` (I,)
    give each image's candidates lazily, read from the store on demand (``cached(i)``); an imported results
    file has neither.
    """

    boxes: DetectionBoxes
    source: str
    warnings: tuple[str, ...] = ()
    cache: RunReader | None = None
    image_hashes: tuple[str | None, ...] = ()

    def __len__(self) -> int:
        return len(self.boxes)

    def cached(self, image: int, class_names: tuple[str, ...] = ()) -> StoredImage | None:
        """One image's detections and NMS candidates from the run's store (None without one)."""
        if self.cache is None or image >= len(self.image_hashes) or self.image_hashes[image] is None:
            return None
        return self.cache.load(self.image_hashes[image], class_names)


def mapping_path(results: str | os.PathLike) -> Path:
    """Where ``detect`` writes the id -> file mapping of a results file: ``<results>.images.json``."""
    results = Path(results)
    return results.with_name(results.stem + ".images.json")


def load_predictions(path: str | os.PathLike, dataset: Dataset) -> Predictions:
    """Read a COCO results file and map it onto ``dataset`` (see the module docstring)."""
    path = Path(path)
    data = read_json(path)
    mapping = categories = None
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        mapping, categories, data = data.get("images"), data.get("categories"), data["annotations"]
    elif mapping_path(path).is_file():
        mapping = read_json(mapping_path(path))
        if isinstance(mapping, dict):
            mapping, categories = mapping.get("images"), mapping.get("categories")
    return predictions_from_list(data, dataset, source=str(path), mapping=mapping, categories=categories)


def predictions_from_list(data: Any, dataset: Dataset, source: str = "results", mapping: Any = None,
                          categories: Any = None) -> Predictions:
    """Validate parsed results and map them onto ``dataset``; mapping: COCO ``images`` entries or None;
    categories: COCO ``categories`` ({"id", "name"}) naming the results' ids, or None."""
    if not isinstance(data, list):
        raise AnnotationError(f"{source} is not a COCO results file: its top level is not an array.")
    what = "results"
    ids = fields.column(data, "image_id", source, what)
    cats = fields.column(data, "category_id", source, what)
    xywh = fields.boxes(fields.column(data, "bbox", source, what), source, what)
    scores = fields.numbers(fields.column(data, "score", source, what), source, what, "score")
    image_index = _image_indices(ids, dataset, mapping, source)
    names = row_category_names(data, categories)
    warnings = []
    if any(n is not None for n in names):
        by_id = {int(c): i for i, c in enumerate(dataset.gt.category_ids.tolist())}
        category_index, note = categories_by_name(names, cats, dataset.class_names, by_id, source,
                                                  dataset.source.name)
        warnings += [note] if note else []
    else:
        category_index = _category_indices(cats, dataset)
    bad_image, bad_cat = image_index < 0, category_index < 0
    if bad_image.any():
        first = ids[int(np.flatnonzero(bad_image)[0])]
        warnings.append(f"{source}: {int(bad_image.sum())} detections name images {dataset.source.name} does not "
                        f"have (first: image_id {first!r}); left out.")
    if (bad_cat & ~bad_image).any():
        first = cats[int(np.flatnonzero(bad_cat & ~bad_image)[0])]
        warnings.append(f"{source}: {int((bad_cat & ~bad_image).sum())} detections have a category_id that is not "
                        f"a class of {dataset.source.name} (first: {first!r}); left out.")
    keep = ~bad_image & ~bad_cat
    boxes = DetectionBoxes(image_index=image_index[keep], category_index=category_index[keep], xywh=xywh[keep],
                           scores=scores[keep])
    return Predictions(boxes=boxes, source=source, warnings=tuple(warnings))


def _category_indices(cats: list, dataset: Dataset) -> np.ndarray:
    known = {int(c): i for i, c in enumerate(dataset.gt.category_ids.tolist())}
    return np.array([known.get(c, -1) if isinstance(c, int) and not isinstance(c, bool) else -1 for c in cats],
                    np.int64)


def _image_indices(ids: list, dataset: Dataset, mapping: Any, source: str) -> np.ndarray:
    """(N,) dataset image index of each result, -1 where none matches."""
    by_id = {int(v): i for i, v in enumerate(dataset.gt.image_ids.tolist())}
    if mapping is not None:
        by_id = _ids_through_mapping(mapping, dataset, source)
    stems: dict[str, int] = {}  # file stem -> image index, -1 where two images share a stem
    for i, name in enumerate(dataset.gt.file_names):
        stem = posixpath.splitext(posixpath.basename(name))[0]
        stems[stem] = -1 if stem in stems else i
    out = np.empty(len(ids), np.int64)
    for j, v in enumerate(ids):
        if isinstance(v, bool):
            out[j] = -1
        elif isinstance(v, int):
            out[j] = by_id.get(v, -1)
        elif isinstance(v, str):
            out[j] = stems.get(v, -1)
        else:
            out[j] = -1
    return out


def _ids_through_mapping(mapping: Any, dataset: Dataset, source: str) -> dict[int, int]:
    """id -> dataset image index from COCO ``images`` entries ({"id", "file_name"}): by relative path
    to the dataset's root (or the same absolute file), else by a unique base name."""
    if not isinstance(mapping, list):
        raise AnnotationError(f"{source}: its 'images' mapping is not an array of {{id, file_name}}.")
    by_rel = {name: i for i, name in enumerate(dataset.gt.file_names)}
    by_path = {p.resolve(): i for i, p in enumerate(dataset.image_paths)}
    by_base: dict[str, int] = {}
    for i, name in enumerate(dataset.gt.file_names):
        base = posixpath.basename(name)
        by_base[base] = -1 if base in by_base else i
    out = {}
    for entry in mapping:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            continue
        name = str(entry.get("file_name", "")).replace("\\", "/")
        index = by_rel.get(posixpath.normpath(name)) if name else None
        if index is None and name:
            index = by_path.get(Path(name).resolve())
        if index is None and name:
            index = by_base.get(posixpath.basename(name), -1)
        if index is not None and index >= 0:
            out[int(entry["id"])] = index
    return out
