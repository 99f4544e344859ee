"""Detection metrics: the flat box arrays an evaluation takes, and its public entry points.

An evaluation sees two flat sets of boxes, ground truth and detections, whose images and
classes are given as *indices* into an image list and a category list that the caller
owns (``detviewer.io.annotations`` builds them from COCO JSON, sorted by id as pycocotools
sorts them). Boxes are COCO ``xywh`` float64 in pixels, kept in float64 so that IoUs are
bit-for-bit those of pycocotools.

- ``coco_eval.evaluate_coco`` - COCO bbox AP/AR with pycocotools' exact semantics (``coco_eval``).
- ``voc_eval.evaluate_voc`` - PASCAL VOC AP@0.5, 11-point (VOC2007) or all-point (VOC2010+)
  (``voc_eval``).

Numpy only: no torch, no Qt, so ``detviewer eval`` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "GroundTruthBoxes",
    "DetectionBoxes",
    "COCO_STAT_NAMES",
    "CocoEvalResult",
    "VocEvalResult",
]

#: Keys of :attr:`CocoEvalResult.stats`, in pycocotools' ``COCOeval.stats`` order.
COCO_STAT_NAMES = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)


def _vector(value: ArrayLike, dtype: DTypeLike, name: str, n: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(value, dtype=dtype).reshape(-1))
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} entries to match the boxes, got {arr.shape[0]}")
    return arr


def _xywh(value: ArrayLike) -> np.ndarray:
    boxes = np.ascontiguousarray(np.asarray(value, dtype=np.float64))
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"xywh must have shape (N, 4), got {boxes.shape}")
    return boxes


def _set_columns(boxes: Any, **columns: DTypeLike) -> None:
    """Check and convert, in place, a frozen box table's ``xywh`` and its per-box ``columns`` {name: dtype}
    (each as long as xywh)."""
    xywh = _xywh(boxes.xywh)
    object.__setattr__(boxes, "xywh", xywh)
    for name, dtype in columns.items():
        object.__setattr__(boxes, name, _vector(getattr(boxes, name), dtype, name, xywh.shape[0]))


@dataclass(frozen=True, eq=False)
class GroundTruthBoxes:
    """Ground-truth boxes of an evaluation as parallel arrays (N boxes).

    image_index (N,) int64: index into the evaluation's image list.
    category_index (N,) int64: index into its category list.
    xywh (N, 4) float64: COCO ``[x, y, width, height]``, pixels.
    area (N,) float64: the annotation's ``area`` field (COCO uses it for the size ranges).
    crowd (N,) bool: ``iscrowd`` (COCO: may match many detections, never counted).
    difficult (N,) bool: ignored by VOC evaluation (VOC ``difficult``, crowd, ``ignore``).
    ids (N,) int64: annotation ids (pycocotools treats a match to id 0 as no match).
    The order of the arrays is the file order; it breaks ties as pycocotools does.
    """

    image_index: np.ndarray
    category_index: np.ndarray
    xywh: np.ndarray
    area: np.ndarray
    crowd: np.ndarray
    difficult: np.ndarray
    ids: np.ndarray

    def __post_init__(self) -> None:
        _set_columns(self, image_index=np.int64, category_index=np.int64, area=np.float64, crowd=bool,
                     difficult=bool, ids=np.int64)

    def __len__(self) -> int:
        return int(self.xywh.shape[0])


@dataclass(frozen=True, eq=False)
class DetectionBoxes:
    """Detections of an evaluation as parallel arrays (N boxes), in results-file order.

    image_index (N,) int64, category_index (N,) int64: as in :class:`GroundTruthBoxes`.
    xywh (N, 4) float64: COCO ``[x, y, width, height]``, pixels.
    scores (N,) float64: confidence; ties keep file order (pycocotools sorts stably).
    """

    image_index: np.ndarray
    category_index: np.ndarray
    xywh: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        _set_columns(self, image_index=np.int64, category_index=np.int64, scores=np.float64)

    def __len__(self) -> int:
        return int(self.xywh.shape[0])

    @property
    def area(self) -> np.ndarray:
        """(N,) float64 width * height, as pycocotools' ``loadRes`` sets it."""
        area: np.ndarray = self.xywh[:, 2] * self.xywh[:, 3]
        return area

@dataclass(frozen=True, eq=False)
class CocoEvalResult:
    """COCO bbox evaluation, laid out as pycocotools' ``COCOeval.eval``.

    precision (T, R, K, A, M) float64: interpolated precision at T IoU thresholds,
        R recall thresholds, K categories, A area ranges, M max-detection settings;
        -1 where a category has no (non-ignored) ground truth.
    recall (T, K, A, M) float64: final recall, -1 likewise.
    stats: :data:`COCO_STAT_NAMES` -> value, pycocotools' 12 summary numbers.
    """

    precision: np.ndarray
    recall: np.ndarray
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    area_ranges: tuple[tuple[str, float, float], ...]
    max_dets: tuple[int, ...]
    stats: dict[str, float]

    def per_class_ap(self, iou: float | None = None) -> np.ndarray:
        """(K,) float64 AP per category, area "all", the largest maxDets; -1 where no GT.

        iou None averages over all IoU thresholds (AP@[.5:.95]); else that threshold only.
        Same as pycocotools evaluated with ``params.catIds = [c]``.
        """
        p = self.precision[..., 0, -1]
        if iou is not None:
            p = p[np.flatnonzero(np.isclose(self.iou_thresholds, iou))]
        out = np.full(p.shape[2], -1.0)
        for k in range(p.shape[2]):
            s = p[:, :, k]
            s = s[s > -1]
            if s.size:
                out[k] = np.mean(s)
        return out


@dataclass(frozen=True, eq=False)
class VocEvalResult:
    """PASCAL VOC evaluation at one IoU threshold.

    ap (K,) float64 per category, -1 where a category has no non-difficult GT.
    mean_ap: mean of the entries > -1 (-1 when there are none).
    metric: "voc07" (11-point) or "voc" (all-point area, VOC2010+).
    precision / recall: per category, (n_k,) float64 curves over that category's
    detections in descending score order (empty where no GT).
    """

    ap: np.ndarray
    mean_ap: float
    metric: str
    iou_threshold: float
    precision: tuple[np.ndarray, ...]
    recall: tuple[np.ndarray, ...]


def check_indices(gt: GroundTruthBoxes, dt: DetectionBoxes, num_images: int, num_categories: int) -> None:
    for name, boxes in (("ground truth", gt), ("detections", dt)):
        if len(boxes) and not (boxes.image_index.min() >= 0 and boxes.image_index.max() < num_images
                               and boxes.category_index.min() >= 0
                               and boxes.category_index.max() < num_categories):
            raise ValueError(f"{name}: image / category indices must lie in [0, {num_images}) "
                             f"and [0, {num_categories})")
