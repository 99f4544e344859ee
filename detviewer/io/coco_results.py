"""COCO results files (a list of {"image_id", "category_id", "bbox", "score"}): reading, checked against
their ground truth, and writing one image's detections."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from detviewer.core.metrics import DetectionBoxes
from detviewer.errors import AnnotationError
from detviewer.io.annotations import CocoGroundTruth, read_json
from detviewer.io import coco_fields as fields

__all__ = ["CocoResults", "load_coco_results", "coco_results_from_list", "coco_results_from_detections"]


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
    category_index = fields.lookup(gt.category_ids, res_cats, source, what, "category_id", gt.source)
    boxes = DetectionBoxes(image_index=image_index, category_index=category_index, xywh=xywh, scores=scores)
    return CocoResults(boxes=boxes, source=source, path=path)


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
