"""COCO results files (a list of {"image_id", "category_id", "bbox", "score"[, "category_name"]}): reading,
checked against their ground truth, and writing one image's detections.

Classes by name: a result that carries a ``category_name`` (``detviewer detect`` writes one per row, and an
id -> name ``categories`` list beside them) is matched to the ground truth's category of that name (exact, else
case-insensitive), not by its id; when the ids differ this is said in one note. A model numbers its classes
its own way (VOC readers number them alphabetically, a model in its training order), so ids alone can pair
every detection with the wrong class without a word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.errors import AnnotationError
from detviewer.io import coco_fields as fields
from detviewer.io.annotations import CocoGroundTruth, read_json

if TYPE_CHECKING:
    from detviewer.core.types import Detections

__all__ = ["CocoResults", "load_coco_results", "coco_results_from_list", "coco_results_from_detections",
           "row_category_names", "categories_by_name"]


@dataclass(frozen=True, eq=False)
class CocoResults:
    """A COCO results file as arrays, checked against its ground truth.

    boxes: the detections in file order, indices into the GT's id lists; notes: one sentence when the
    categories were matched by name and their ids differ.
    """

    boxes: DetectionBoxes
    source: str = "results"
    path: Path | None = None
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.boxes)


def load_coco_results(path: str | os.PathLike, gt: CocoGroundTruth) -> CocoResults:
    """Load a COCO results file (a list of {"image_id", "category_id", "bbox", "score"})."""
    path = Path(path)
    return coco_results_from_list(read_json(path), gt, source=str(path), path=path)


def coco_results_from_list(data: Any, gt: CocoGroundTruth, source: str = "results",
                           path: Path | None = None) -> CocoResults:
    """Validate parsed COCO results against ``gt`` and convert them to arrays.

    Results naming an image or category the ground truth does not have are an error
    (pycocotools asserts on the first and silently drops the second).
    """
    if isinstance(data, dict):
        hint = " (it looks like a ground-truth file)" if "annotations" in data else ""
        raise AnnotationError(f"{source} is not a COCO results file: its top level is an object{hint}, "
                              f"not an array.")
    if not isinstance(data, list):
        raise AnnotationError(f"{source} is not a COCO results file: its top level is {fields.json_kind(data)}, "
                              f"not an array.")
    what = "results"
    res_images = fields.ids(fields.column(data, "image_id", source, what), source, what, "image_id")
    res_cats = fields.ids(fields.column(data, "category_id", source, what), source, what, "category_id")
    xywh = fields.boxes(fields.column(data, "bbox", source, what), source, what)
    scores = fields.numbers(fields.column(data, "score", source, what), source, what, "score")
    image_index = fields.lookup(gt.image_ids, res_images, source, what, "image_id", gt.source)
    names = row_category_names(data)
    notes: tuple[str, ...] = ()
    if any(n is not None for n in names):
        by_id = {int(c): i for i, c in enumerate(gt.category_ids.tolist())}
        category_index, note = categories_by_name(names, res_cats.tolist(), gt.category_names, by_id, source,
                                                  str(gt.source))
        if (category_index < 0).any():
            first = int(np.flatnonzero(category_index < 0)[0])
            raise AnnotationError(f"{source}: {what}[{first}] has category_name {names[first]!r} and category_id "
                                  f"{int(res_cats[first])}, neither of which is a category of {gt.source}.")
        notes = (note,) if note else ()
    else:
        category_index = fields.lookup(gt.category_ids, res_cats, source, what, "category_id", gt.source)
    boxes = DetectionBoxes(image_index=image_index, category_index=category_index, xywh=xywh, scores=scores)
    return CocoResults(boxes=boxes, source=source, path=path, notes=notes)


def row_category_names(rows: list, categories: Any = None) -> list[str | None]:
    """Each result's class name: its ``category_name``, else the name ``categories`` (a COCO ``categories`` list
    of {"id", "name"}) gives its ``category_id``, else None."""
    by_id = {}
    if isinstance(categories, list):
        by_id = {c["id"]: c["name"] for c in categories
                 if isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str)}
    out = []
    for row in rows:
        name = row.get("category_name") if isinstance(row, dict) else None
        if not isinstance(name, str):
            cid = row.get("category_id") if isinstance(row, dict) else None
            name = by_id.get(cid) if isinstance(cid, int) and not isinstance(cid, bool) else None
        out.append(name)
    return out


def categories_by_name(names: list[str | None], ids: list, class_names: Sequence[str], by_id: Mapping[int, int],
                       source: str, where: str) -> tuple[np.ndarray, str]:
    """(N,) class index of each result: by its name when it has one (exact, else case-insensitive), else by its
    id through ``by_id``; -1 where neither is known. The note (or "") says so in one sentence when a named
    result's id is not the ground truth's id for that name."""
    exact = {n: i for i, n in enumerate(class_names)}
    folded = {n.casefold(): i for i, n in reversed(list(enumerate(class_names)))}
    out = np.full(len(names), -1, np.int64)
    differ: dict[str, tuple] = {}
    for j, (name, cid) in enumerate(zip(names, ids)):
        by_number = by_id.get(cid, -1) if isinstance(cid, int) and not isinstance(cid, bool) else -1
        if name is None:
            out[j] = by_number
            continue
        index = exact.get(name, folded.get(name.casefold(), -1))
        out[j] = index
        if index >= 0 and index != by_number and name not in differ:
            differ[name] = (cid, index)
    if not differ:
        return out, ""
    ids_of = {i: c for c, i in by_id.items()}
    name, (cid, index) = next(iter(differ.items()))
    return out, (f"{source} numbers its classes differently from {where} ({len(differ)} names, e.g. '{name}' is id "
                 f"{cid} in the results and {ids_of.get(index, index)} in the ground truth): matched by name.")


def coco_results_from_detections(image_id: int, detections: Detections,
                                 label_to_category_id: Mapping[int, int] | None = None,
                                 category_names: Mapping[int, str] | None = None) -> list[dict]:
    """COCO result dicts for one image's :class:`~detviewer.core.types.Detections`.

    bbox is ``[x, y, width, height]`` in pixels (from ``detections.xyxy``), score and
    category_id plain Python numbers. ``label_to_category_id`` maps model labels to the
    dataset's category ids (see :func:`category_ids_by_name`); detections whose label it
    does not map (background, classes the dataset lacks) are left out. None keeps labels
    as category ids, which is right for torchvision's COCO models. ``category_names`` (category
    id -> name) adds a ``category_name`` to each row that has one.
    """
    xyxy = np.asarray(detections.xyxy, np.float64).reshape(-1, 4)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).tolist()
    scores = np.asarray(detections.scores, np.float64).tolist()
    labels = np.asarray(detections.labels, np.int64).tolist()
    out = []
    for box, score, label in zip(xywh, scores, labels):
        if label_to_category_id is None:
            category = label
        elif label in label_to_category_id:
            category = int(label_to_category_id[label])
        else:
            continue
        row = {"image_id": int(image_id), "category_id": category, "bbox": box, "score": score}
        if category_names is not None and category in category_names:
            row["category_name"] = category_names[category]
        out.append(row)
    return out
