"""COCO ground-truth and results files: loading with one-sentence errors, and writing.

``load_coco_gt`` / ``load_coco_results`` read the JSON files pycocotools reads and turn
them into flat arrays (:class:`~detviewer.core.metrics.GroundTruthBoxes`,
:class:`~detviewer.core.metrics.DetectionBoxes`) whose image and category *indices*
refer to the ground truth's id lists, sorted by id as pycocotools sorts them.
Anything malformed raises :class:`~detviewer.errors.AnnotationError` naming the file
and the entry. ``coco_results_from_detections`` and ``match_image_ids`` serve
``detviewer detect --gt``.

Ids must be JSON integers. Differences from pycocotools, which would crash or silently
mis-evaluate instead: a GT annotation without ``area`` gets width * height, without
``iscrowd`` gets 0; duplicate ids, unknown image/category ids and negative box sizes
are errors.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.errors import AnnotationError

__all__ = [
    "CocoGroundTruth",
    "CocoResults",
    "read_json",
    "load_coco_gt",
    "coco_gt_from_dict",
    "load_coco_results",
    "coco_results_from_list",
    "coco_results_from_detections",
    "category_ids_by_name",
    "match_image_ids",
]


@dataclass(frozen=True, eq=False)
class CocoGroundTruth:
    """A COCO ground-truth file as arrays.

    image_ids (I,) int64 ascending, file_names (I,) aligned with them ("" when absent);
    category_ids (K,) int64 ascending, category_names (K,) aligned.
    boxes: every annotation in file order; its indices refer to the two id lists.
    source: the file name used in messages; path: the file (None when built from a dict).
    """

    image_ids: np.ndarray
    file_names: tuple[str, ...]
    category_ids: np.ndarray
    category_names: tuple[str, ...]
    boxes: GroundTruthBoxes
    source: str = "ground truth"
    path: Path | None = None

    @property
    def num_images(self) -> int:
        return int(self.image_ids.shape[0])

    @property
    def num_categories(self) -> int:
        return int(self.category_ids.shape[0])

    def annotations_of(self, image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GT of one image: xyxy (N, 4) float32 pixels, category_ids (N,) int64, crowd (N,) bool."""
        i = int(np.searchsorted(self.image_ids, image_id))
        if i >= self.num_images or self.image_ids[i] != image_id:
            raise AnnotationError(f"{self.source} has no image with id {image_id}.")
        sel = self.boxes.image_index == i
        xywh = self.boxes.xywh[sel]
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).astype(np.float32)
        return xyxy, self.category_ids[self.boxes.category_index[sel]], self.boxes.crowd[sel]


@dataclass(frozen=True, eq=False)
class CocoResults:
    """A COCO results file as arrays, checked against its ground truth.

    boxes: the detections in file order, indices into the GT's id lists.
    """

    boxes: DetectionBoxes
    source: str = "results"
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.boxes)


# ----------------------------------------------------------------------------- reading

def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; AnnotationError for a missing, unreadable or invalid file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found.") from None
    except IsADirectoryError:
        raise AnnotationError(f"{path} is a folder, not a JSON file.") from None
    except OSError as exc:
        raise AnnotationError(f"{path} could not be read: {exc.strerror or exc}.") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except UnicodeDecodeError:
        raise AnnotationError(f"{path} is not valid JSON: it is not UTF-8 text.") from None


def load_coco_gt(path: str | os.PathLike) -> CocoGroundTruth:
    """Load a COCO ground-truth file (a dict with "images", "annotations", "categories")."""
    path = Path(path)
    return coco_gt_from_dict(read_json(path), source=str(path), path=path)


def load_coco_results(path: str | os.PathLike, gt: CocoGroundTruth) -> CocoResults:
    """Load a COCO results file (a list of {"image_id", "category_id", "bbox", "score"})."""
    path = Path(path)
    return coco_results_from_list(read_json(path), gt, source=str(path), path=path)


# ----------------------------------------------------------------------------- parsing

def coco_gt_from_dict(data: Any, source: str = "ground truth", path: Path | None = None) -> CocoGroundTruth:
    """Validate a parsed COCO ground-truth dict and convert it to arrays."""
    if not isinstance(data, dict):
        hint = " (a results file?)" if isinstance(data, list) else ""
        raise AnnotationError(f"{source} is not a COCO ground-truth file: its top level is "
                              f"{_json_kind(data)}{hint}, not an object.")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise AnnotationError(f"{source} is not a COCO ground-truth file: it has no '{key}' list.")
        if not isinstance(data[key], list):
            raise AnnotationError(f"{source}: '{key}' is {_json_kind(data[key])}, not an array.")
    images, anns, cats = data["images"], data["annotations"], data["categories"]

    image_ids = _ids(_column(images, "id", source, "images"), source, "images", "id")
    order = np.argsort(image_ids, kind="stable")
    image_ids = image_ids[order]
    _no_duplicates(image_ids, source, "image id")
    names = [img.get("file_name", "") for img in images]
    file_names = tuple(str(names[i]) for i in order)

    cat_ids = _ids(_column(cats, "id", source, "categories"), source, "categories", "id")
    cat_order = np.argsort(cat_ids, kind="stable")
    cat_ids = cat_ids[cat_order]
    _no_duplicates(cat_ids, source, "category id")
    cat_names = tuple(str(cats[i].get("name", f"category {cats[i]['id']}")) for i in cat_order)

    ann_ids = _ids(_column(anns, "id", source, "annotations"), source, "annotations", "id")
    _no_duplicates(np.sort(ann_ids), source, "annotation id")
    ann_images = _ids(_column(anns, "image_id", source, "annotations"), source, "annotations", "image_id")
    ann_cats = _ids(_column(anns, "category_id", source, "annotations"), source, "annotations", "category_id")
    xywh = _boxes(_column(anns, "bbox", source, "annotations"), source, "annotations")
    image_index = _lookup(image_ids, ann_images, source, "annotations", "image_id", "'images'", ann_ids)
    category_index = _lookup(cat_ids, ann_cats, source, "annotations", "category_id", "'categories'", ann_ids)

    area = _area(anns, xywh, source)
    crowd = _flags(anns, "iscrowd", source)
    difficult = crowd | _flags(anns, "difficult", source) | _flags(anns, "ignore", source)

    boxes = GroundTruthBoxes(image_index=image_index, category_index=category_index, xywh=xywh,
                             area=area, crowd=crowd, difficult=difficult, ids=ann_ids)
    return CocoGroundTruth(image_ids=image_ids, file_names=file_names, category_ids=cat_ids,
                           category_names=cat_names, boxes=boxes, source=source, path=path)


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
        raise AnnotationError(f"{source} is not a COCO results file: its top level is {_json_kind(data)}, "
                              f"not an array.")
    what = "results"
    res_images = _ids(_column(data, "image_id", source, what), source, what, "image_id")
    res_cats = _ids(_column(data, "category_id", source, what), source, what, "category_id")
    xywh = _boxes(_column(data, "bbox", source, what), source, what)
    scores = _numbers(_column(data, "score", source, what), source, what, "score")
    image_index = _lookup(gt.image_ids, res_images, source, what, "image_id", gt.source)
    category_index = _lookup(gt.category_ids, res_cats, source, what, "category_id", gt.source)
    boxes = DetectionBoxes(image_index=image_index, category_index=category_index, xywh=xywh, scores=scores)
    return CocoResults(boxes=boxes, source=source, path=path)


def _column(items: list, key: str, source: str, what: str) -> list:
    """``[item[key] for item in items]``; AnnotationError naming the first bad item."""
    try:
        return [item[key] for item in items]
    except (KeyError, TypeError, IndexError):
        pass
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise AnnotationError(f"{source}: {what}[{i}] is {_json_kind(item)}, not an object.")
        if key not in item:
            raise AnnotationError(f"{source}: {what}[{i}] has no '{key}'.")
    raise AnnotationError(f"{source}: the '{key}' fields of {what} could not be read.")


def _ids(values: list, source: str, what: str, key: str) -> np.ndarray:
    """(N,) int64 from JSON integers; AnnotationError naming the first non-integer."""
    arr = np.array(values) if values else np.zeros(0, np.int64)
    if arr.ndim == 1 and arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or not -2 ** 63 <= v < 2 ** 63:
            raise AnnotationError(f"{source}: {what}[{i}] has {key} {_short(v)}, which is not a 64-bit integer.")
    return np.array(values, np.int64)  # pragma: no cover - a mix numpy did not type as int


def _is_number(v: Any) -> bool:
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def _numbers(values: list, source: str, what: str, key: str) -> np.ndarray:
    """(N,) float64 from finite JSON numbers; AnnotationError naming the first other value."""
    arr = np.array(values) if values else np.zeros(0)
    if arr.ndim == 1 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False)
        if np.isfinite(arr).all():
            return arr
    for i, v in enumerate(values):
        if not _is_number(v):
            raise AnnotationError(f"{source}: {what}[{i}] has {key} {_short(v)}, which is not a finite number.")
    return np.array(values, np.float64)  # pragma: no cover - a mix numpy did not type as numbers


def _flags(items: list, key: str, source: str) -> np.ndarray:
    """(N,) bool of an optional 0/1 (or true/false) annotation field, False where absent."""
    values = [item.get(key, 0) for item in items]
    arr = np.array(values) if values else np.zeros(0, bool)
    if arr.ndim == 1 and arr.dtype.kind in "biu":
        return arr != 0
    for i, v in enumerate(values):
        if not isinstance(v, int):  # bool is an int
            raise AnnotationError(f"{source}: annotations[{i}] has {key} {_short(v)}, which is not 0 or 1.")
    return np.array(values) != 0  # pragma: no cover


def _area(items: list, xywh: np.ndarray, source: str) -> np.ndarray:
    """(N,) float64 annotation areas; width * height where "area" is absent."""
    values = [item.get("area") for item in items]
    if None in values:
        box_area = (xywh[:, 2] * xywh[:, 3]).tolist()
        values = [box_area[i] if v is None else v for i, v in enumerate(values)]
    return _numbers(values, source, "annotations", "area")


def _boxes(values: list, source: str, what: str) -> np.ndarray:
    """(N, 4) float64 xywh; AnnotationError for the first bbox that is not 4 finite numbers, w, h >= 0."""
    try:
        arr = np.array(values) if values else np.zeros((0, 4))
    except ValueError:  # ragged lists
        arr = None
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False)
        if np.isfinite(arr).all() and (arr[:, 2:] >= 0).all():
            return arr
    for i, b in enumerate(values):
        if not isinstance(b, list) or len(b) != 4 or not all(_is_number(v) for v in b):
            raise AnnotationError(f"{source}: {what}[{i}] has bbox {_short(b)}, "
                                  f"which is not 4 finite numbers [x, y, width, height].")
        if b[2] < 0 or b[3] < 0:
            raise AnnotationError(f"{source}: {what}[{i}] has bbox {_short(b)} with a negative width or height.")
    return np.array(values, np.float64)  # pragma: no cover - a mix numpy did not type as numbers


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words: "an array", "a string" ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def _short(value: Any) -> str:
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _no_duplicates(sorted_ids: np.ndarray, source: str, name: str) -> None:
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if dup.size:
        raise AnnotationError(f"{source}: {name} {int(sorted_ids[dup[0]])} is used more than once.")


def _lookup(known: np.ndarray, ids: np.ndarray, source: str, what: str, key: str,
            where: str, names: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``ids`` in the ascending array ``known``; AnnotationError for unknown ones."""
    idx = np.searchsorted(known, ids)
    clipped = np.minimum(idx, max(known.shape[0] - 1, 0))
    bad = (idx >= known.shape[0]) | (known[clipped] != ids) if known.size else np.ones(ids.shape, bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        count = int(bad.sum())
        entry = f"annotation {int(names[first])}" if names is not None else f"{what}[{first}]"
        more = f" ({count} {what} in all)" if count > 1 else ""
        raise AnnotationError(f"{source}: {entry} has {key} {int(ids[first])}, which is not in {where}{more}.")
    return idx.astype(np.int64)


# ----------------------------------------------------------------------------- writing

def coco_results_from_detections(image_id: int, detections, label_to_category_id: Mapping[int, int] | None = None
                                 ) -> list[dict]:
    """COCO result dicts for one image's :class:`~detviewer.core.types.Detections`.

    bbox is ``[x, y, width, height]`` in pixels (from ``detections.xyxy``), score and
    category_id plain Python numbers. ``label_to_category_id`` maps model labels to the
    dataset's category ids (see :func:`category_ids_by_name`); detections whose label it
    does not map (background, classes the dataset lacks) are left out. None keeps labels
    as category ids, which is right for torchvision's COCO models.
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
        out.append({"image_id": int(image_id), "category_id": category, "bbox": box, "score": score})
    return out


def category_ids_by_name(class_names: Sequence[str], gt: CocoGroundTruth) -> dict[int, int]:
    """Map model labels to GT category ids by class name (exact, else case-insensitive).

    class_names[label] is the model's name for ``label``; labels whose name the ground
    truth does not have (such as "background") are not in the mapping.
    """
    exact = {name: int(cid) for name, cid in zip(gt.category_names, gt.category_ids)}
    folded = {name.casefold(): int(cid) for name, cid in zip(gt.category_names, gt.category_ids)}
    mapping = {}
    for label, name in enumerate(class_names):
        if name in exact:
            mapping[label] = exact[name]
        elif name and name.casefold() in folded:
            mapping[label] = folded[name.casefold()]
    return mapping


def match_image_ids(paths: Iterable[str | os.PathLike], gt: CocoGroundTruth, *,
                    allow_missing: bool = False) -> list[int | None]:
    """The GT image id of each image path, in order.

    An image matches a GT ``file_name`` that equals its path relative to the GT file's
    folder; failing that, the one GT image with the same base name. Two GT images with
    that base name is an AnnotationError (ambiguous); no match at all is one too unless
    ``allow_missing``, which gives None.
    """
    root = gt.path.resolve().parent if gt.path is not None else None
    by_rel: dict[str, int] = {}
    by_base: dict[str, list[int]] = {}
    for image_id, name in zip(gt.image_ids.tolist(), gt.file_names):
        if not name:
            continue
        norm = posixpath.normpath(name.replace("\\", "/"))
        by_rel[norm] = image_id
        by_base.setdefault(posixpath.basename(norm), []).append(image_id)
    names = dict(zip(gt.image_ids.tolist(), gt.file_names))
    out: list[int | None] = []
    for p in paths:
        p = Path(p)
        if root is not None:
            rel = os.path.relpath(p.resolve(), root).replace(os.sep, "/")
            if rel in by_rel:
                out.append(by_rel[rel])
                continue
        hits = by_base.get(p.name, [])
        if len(hits) == 1:
            out.append(hits[0])
        elif len(hits) > 1:
            listed = ", ".join(names[h] for h in hits[:3])
            raise AnnotationError(f"{p} matches {len(hits)} images of {gt.source} by name ({listed}); "
                                  f"place the images as the file_names say, relative to the GT file's folder.")
        elif allow_missing:
            out.append(None)
        else:
            raise AnnotationError(f"{p} is not an image of {gt.source} (no file_name matches it).")
    return out
