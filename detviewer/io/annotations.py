"""COCO ground-truth and results files: loading with one-sentence errors, and writing.

``load_coco_gt`` reads the JSON file pycocotools reads and turns it into flat arrays
(:class:`~detviewer.core.metrics.GroundTruthBoxes`) whose image and category *indices* refer
to its id lists, sorted by id as pycocotools sorts them (results files: io.coco_results).
Anything malformed raises :class:`~detviewer.errors.AnnotationError` naming the file
and the entry. ``match_image_ids`` serves ``detviewer detect --gt``.

Ids must be JSON integers; at most io.limits.MAX_CLASSES categories. Differences from pycocotools, which would crash or silently
mis-evaluate instead: a GT annotation without ``area`` gets width * height, without
``iscrowd`` gets 0; duplicate ids, unknown image/category ids and negative box sizes
are errors.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.errors import AnnotationError
from detviewer.io import coco_fields as fields
from detviewer.io.limits import MAX_JSON_BYTES, check_class_count, read_regular

__all__ = [
    "CocoGroundTruth",
    "read_json",
    "load_coco_gt",
    "coco_gt_from_dict",
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


# ----------------------------------------------------------------------------- reading

def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file (a UTF-8 byte-order mark is allowed); AnnotationError for a missing or unreadable
    file, one that is not a regular file or is over io.limits.MAX_JSON_BYTES, or invalid JSON."""
    path = Path(path)
    raw = read_regular(path, MAX_JSON_BYTES, "JSON file")
    try:
        return json.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except UnicodeDecodeError:
        raise AnnotationError(f"{path} is not valid JSON: it is not UTF-8 text.") from None


def load_coco_gt(path: str | os.PathLike) -> CocoGroundTruth:
    """Load a COCO ground-truth file (a dict with "images", "annotations", "categories")."""
    path = Path(path)
    return coco_gt_from_dict(read_json(path), source=str(path), path=path)


# ----------------------------------------------------------------------------- parsing

def coco_gt_from_dict(data: Any, source: str = "ground truth", path: Path | None = None) -> CocoGroundTruth:
    """Validate a parsed COCO ground-truth dict and convert it to arrays."""
    if not isinstance(data, dict):
        hint = " (a results file?)" if isinstance(data, list) else ""
        raise AnnotationError(f"{source} is not a COCO ground-truth file: its top level is "
                              f"{fields.json_kind(data)}{hint}, not an object.")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise AnnotationError(f"{source} is not a COCO ground-truth file: it has no '{key}' list.")
        if not isinstance(data[key], list):
            raise AnnotationError(f"{source}: '{key}' is {fields.json_kind(data[key])}, not an array.")
    images, anns, cats = data["images"], data["annotations"], data["categories"]

    image_ids = fields.ids(fields.column(images, "id", source, "images"), source, "images", "id")
    order = np.argsort(image_ids, kind="stable")
    image_ids = image_ids[order]
    fields.no_duplicates(image_ids, source, "image id")
    names = [img.get("file_name", "") for img in images]
    file_names = tuple(str(names[i]) for i in order)

    check_class_count(len(cats), source)
    cat_ids = fields.ids(fields.column(cats, "id", source, "categories"), source, "categories", "id")
    cat_order = np.argsort(cat_ids, kind="stable")
    cat_ids = cat_ids[cat_order]
    fields.no_duplicates(cat_ids, source, "category id")
    cat_names = tuple(str(cats[i].get("name", f"category {cats[i]['id']}")) for i in cat_order)

    ann_ids = fields.ids(fields.column(anns, "id", source, "annotations"), source, "annotations", "id")
    fields.no_duplicates(np.sort(ann_ids), source, "annotation id")
    ann_images = fields.ids(fields.column(anns, "image_id", source, "annotations"), source, "annotations", "image_id")
    ann_cats = fields.ids(fields.column(anns, "category_id", source, "annotations"), source, "annotations", "category_id")
    xywh = fields.boxes(fields.column(anns, "bbox", source, "annotations"), source, "annotations")
    image_index = fields.lookup(image_ids, ann_images, source, "annotations", "image_id", "'images'", ann_ids)
    category_index = fields.lookup(cat_ids, ann_cats, source, "annotations", "category_id", "'categories'", ann_ids)

    area = fields.area(anns, xywh, source)
    crowd = fields.flags(anns, "iscrowd", source)
    difficult = crowd | fields.flags(anns, "difficult", source) | fields.flags(anns, "ignore", source)

    boxes = GroundTruthBoxes(image_index=image_index, category_index=category_index, xywh=xywh,
                             area=area, crowd=crowd, difficult=difficult, ids=ann_ids)
    return CocoGroundTruth(image_ids=image_ids, file_names=file_names, category_ids=cat_ids,
                           category_names=cat_names, boxes=boxes, source=source, path=path)


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


def match_image_ids(paths: Iterable[str | os.PathLike], gt: CocoGroundTruth, *, allow_missing: bool = False,
                    image_roots: Sequence[str | os.PathLike] = (), by_base_name: bool = True) -> list[int | None]:
    """The GT image id of each image path, in order.

    An image matches a GT ``file_name`` that equals its path relative to the GT file's folder or to one of
    ``image_roots`` (COCO's layout keeps images in ``val2017/`` and the file in ``annotations/``); failing
    that, and only ``by_base_name``, the one GT image with the same base name. Two GT images with that base
    name is an AnnotationError (ambiguous); no match at all is one too unless ``allow_missing`` (None then).
    """
    roots = ([gt.path.resolve().parent] if gt.path is not None else []) + [Path(r).resolve() for r in image_roots]
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
        rels = [os.path.relpath(p.resolve(), root).replace(os.sep, "/") for root in roots]
        found = next((by_rel[rel] for rel in rels if rel in by_rel), None)
        if found is not None:
            out.append(found)
            continue
        hits = by_base.get(p.name, []) if by_base_name else []
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
