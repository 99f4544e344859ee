"""Anchor coverage: can this model's anchors even reach the dataset's objects? (Qt-free, numpy.)

    source = detectors.anchor_source.anchor_source(detector)        # the model's own generator
    cov = anchor_coverage(source, dataset.boxes, image_hw, dataset.class_names, progress, should_stop)
    cov.share_below, cov.by_class(), cov.by_size(), cov.uncovered()

For every ground-truth object, the best IoU over the anchors the model makes *at that image's input size*
(its transform's resize; one generator call per distinct input size; IoU computed in the model's input
pixels, where the model matches its targets). An object whose best IoU is below the model's positive
threshold (RPN 0.7, RetinaNet 0.5, SSD 0.5, read from its matcher) gets no anchor by the threshold rule:
it is trained only through the low-quality-match rule (each object's best anchors) or not at all.

``source`` is any object with ``name``, ``positive_iou``, ``rule`` (a sentence), ``input_size((h, w)) ->
(h, w)`` and ``anchors((h, w)) -> tuple[AnchorSet, ...]`` in input pixels (``ops.model_anchors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.core.types import AnchorSet
from detviewer.evaluation.anchor_iou import best_anchor_iou

__all__ = ["AnchorCoverage", "CoverageTable", "CoverageHit", "anchor_coverage", "SIZE_BUCKETS", "anchor_shapes"]

#: COCO's size buckets by area in original pixels: small < 32², medium < 96², large.
SIZE_BUCKETS = (("small", 0.0, 32.0 ** 2), ("medium", 32.0 ** 2, 96.0 ** 2), ("large", 96.0 ** 2, np.inf))

Progress = Callable[[int, int], None]


class AnchorSource(Protocol):
    """What coverage reads of a model (see the module docstring; ``ops.model_anchors.TorchvisionAnchors``)."""

    name: str
    positive_iou: float
    rule: str

    def input_size(self, image_hw: tuple[int, int]) -> tuple[int, int]: ...

    def anchors(self, input_hw: tuple[int, int]) -> tuple[AnchorSet, ...]: ...


@dataclass(frozen=True, eq=False)
class CoverageTable:
    """Rows (R,): names, n objects, below (objects under the threshold), share_below (NaN without objects),
    mean_iou (mean best IoU, NaN without objects)."""

    names: tuple[str, ...]
    n: np.ndarray
    below: np.ndarray
    share_below: np.ndarray
    mean_iou: np.ndarray


def _table(names: Sequence[str], group: np.ndarray, best: np.ndarray, below: np.ndarray) -> CoverageTable:
    r = len(names)
    n = np.bincount(group, minlength=r)[:r]
    with np.errstate(invalid="ignore", divide="ignore"):
        return CoverageTable(tuple(names), n, np.bincount(group[below], minlength=r)[:r],
                             np.bincount(group[below], minlength=r)[:r] / np.where(n > 0, n, np.nan),
                             np.bincount(group, best, minlength=r)[:r] / np.where(n > 0, n, np.nan))


@dataclass(frozen=True)
class CoverageHit:
    """One measured object, for opening it: image index, centre_xy (original pixels: where to show the anchors
    view), best_iou, and the level and index (in that level, at the image's input size) of its best anchor."""

    gt: int
    image: int
    centre_xy: tuple[float, float]
    best_iou: float
    level: int
    anchor: int


@dataclass(frozen=True, eq=False)
class AnchorCoverage:
    """Coverage of M objects by a model's anchors.

    gt_index (M,) int64: the GT boxes measured (indices into the dataset's boxes); best_iou (M,) float64
    (-1 for boxes a stopped run did not reach); best_level (M,), best_anchor (M,) int64: the level and the
    index in that level's anchors (at the object's input size) of its best anchor; gt_wh (M, 2) float64: object
    width, height in model-input pixels; area (M,) float64 in original pixels; category (M,) int64; image (M,)
    int64 the image of each; centre_xy (M, 2) float64 its centre in original pixels.
    positive_iou: the model's threshold; rule: how the model labels anchors; model: its name;
    anchor_wh (S, 2) / anchor_level (S,): the anchor shapes at the most common input size (input pixels);
    input_sizes: ((h, w), objects) per distinct input size; skipped: one sentence per kind of box left out.
    """

    gt_index: np.ndarray
    best_iou: np.ndarray
    best_level: np.ndarray
    best_anchor: np.ndarray
    gt_wh: np.ndarray
    area: np.ndarray
    category: np.ndarray
    image: np.ndarray
    centre_xy: np.ndarray
    class_names: tuple[str, ...]
    positive_iou: float
    rule: str
    model: str
    anchor_wh: np.ndarray
    anchor_level: np.ndarray
    input_sizes: tuple[tuple[tuple[int, int], int], ...]
    skipped: tuple[str, ...] = ()
    stopped: bool = False

    def __len__(self) -> int:
        return len(self.gt_index)

    @property
    def below(self) -> np.ndarray:
        """(M,) bool: objects whose best IoU is under the positive threshold (not covered)."""
        return self.best_iou < self.positive_iou

    @property
    def share_below(self) -> float:
        return float(self.below.mean()) if len(self) else float("nan")

    def by_class(self) -> CoverageTable:
        return _table(self.class_names, self.category, self.best_iou, self.below)

    def by_size(self) -> CoverageTable:
        bucket = np.searchsorted([hi for _, _, hi in SIZE_BUCKETS[:-1]], self.area, side="right")
        return _table([name for name, _, _ in SIZE_BUCKETS], bucket, self.best_iou, self.below)

    def uncovered(self) -> np.ndarray:
        """GT indices of the objects under the threshold, lowest best IoU first (what the window lists)."""
        order = np.argsort(self.best_iou[self.below], kind="stable")
        return self.gt_index[self.below][order]

    def hit(self, gt: int) -> CoverageHit:
        """Where GT box ``gt`` (an index into the dataset's boxes) is and how its best anchor fits; KeyError when
        it was not measured (a crowd region, no size, an image of unknown size)."""
        found = np.flatnonzero(self.gt_index == gt)
        if not len(found):
            raise KeyError(f"GT box {gt} was not measured")
        i = int(found[0])
        return CoverageHit(int(gt), int(self.image[i]), (float(self.centre_xy[i, 0]), float(self.centre_xy[i, 1])),
                           float(self.best_iou[i]), int(self.best_level[i]), int(self.best_anchor[i]))


def anchor_shapes(anchor_sets: Sequence[AnchorSet]) -> tuple[np.ndarray, np.ndarray]:
    """(S, 2) width, height of each level's anchor shapes (from its first cell) and (S,) their level."""
    wh, level = [], []
    for index, s in enumerate(anchor_sets):
        first = np.asarray(s.boxes[:s.anchors_per_location], np.float64)
        wh.append(first[:, 2:] - first[:, :2])
        level.append(np.full(len(first), index))
    return (np.concatenate(wh) if wh else np.zeros((0, 2))), (np.concatenate(level) if level else np.zeros(0, int))


def _measured_objects(gt: GroundTruthBoxes, image_hw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """GT indices that are objects of positive size on images of known size, and why the others are out."""
    known = (image_hw[gt.image_index] > 0).all(axis=1) if len(gt) else np.zeros(0, bool)
    sized = (gt.xywh[:, 2] > 0) & (gt.xywh[:, 3] > 0)
    objects = ~gt.crowd
    skipped = []
    if (objects & ~sized).any():
        skipped.append(f"{int((objects & ~sized).sum())} objects have no width or height; left out.")
    if (objects & sized & ~known).any():
        skipped.append(f"{int((objects & sized & ~known).sum())} objects lie on images whose size could not be "
                       f"read; left out.")
    return np.flatnonzero(objects & sized & known), skipped


def _input_size(source: AnchorSource, h: int, w: int) -> tuple[int, int]:
    """The model's input size for an image of h x w, (0, 0) when unknown or refused by the model's transform."""
    if h <= 0 or w <= 0:
        return 0, 0
    try:
        in_h, in_w = (int(v) for v in source.input_size((h, w)))
    except Exception:  # e.g. a 1 x 5000 image resizes to height 0: those objects are left out, said once
        return 0, 0
    return (in_h, in_w) if min(in_h, in_w) > 0 else (0, 0)


def _in_input_pixels(source: AnchorSource, gt: GroundTruthBoxes, image_hw: np.ndarray, measured: np.ndarray,
                     skipped: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(measured, xyxy (M, 4) in input pixels, input (h, w) (M, 2)) of the objects whose image the model takes."""
    sizes, per_image = np.unique(image_hw, axis=0, return_inverse=True)
    per_image = per_image.reshape(-1)
    input_of_size = np.array([_input_size(source, int(h), int(w)) for h, w in sizes], np.float64).reshape(-1, 2)
    refused = (input_of_size[per_image[gt.image_index[measured]]] == 0).any(axis=1)
    if refused.any():
        skipped.append(f"{int(refused.sum())} objects lie on images of a size {source.name} cannot take; left out.")
        measured = measured[~refused]
    img = gt.image_index[measured]
    in_hw = input_of_size[per_image[img]]
    scale = in_hw / image_hw[img]  # (sy, sx): original -> input pixels, per axis as the transform resizes
    xywh = gt.xywh[measured]
    xyxy = np.c_[xywh[:, 0] * scale[:, 1], xywh[:, 1] * scale[:, 0], (xywh[:, 0] + xywh[:, 2]) * scale[:, 1],
                 (xywh[:, 1] + xywh[:, 3]) * scale[:, 0]]
    return measured, xyxy, in_hw


def anchor_coverage(source: AnchorSource, gt: GroundTruthBoxes, image_hw: ArrayLike, class_names: Sequence[str],
                    progress: Progress | None = None, should_stop: Callable[[], bool] | None = None
                    ) -> AnchorCoverage:
    """Best anchor IoU of every object of ``gt`` (crowd regions are no objects).

    image_hw (I, 2) int: each image's (height, width) in pixels, <= 0 where unknown (its objects are left out,
    said in ``skipped``). progress(done, total) counts objects; should_stop() is polled between blocks.
    """
    image_hw = np.asarray(image_hw, np.int64).reshape(-1, 2)
    measured, skipped = _measured_objects(gt, image_hw)
    measured, xyxy, in_hw = _in_input_pixels(source, gt, image_hw, measured, skipped)
    n = len(measured)
    best, level, anchor = np.full(n, -1.0), np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    groups, group_of = np.unique(in_hw, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    done, stopped, counts, common = 0, False, [], None
    for g, (h, w) in enumerate(groups.astype(int).tolist()):
        if should_stop is not None and should_stop():
            stopped = True
            break
        members = np.flatnonzero(group_of == g)
        anchor_sets = source.anchors((h, w))
        if common is None or len(members) > common[0]:
            common = (len(members), anchor_sets)

        def step(d: int, _t: int, base: int=done) -> None:
            if progress is not None:
                progress(base + d, n)
        best[members], level[members], anchor[members] = best_anchor_iou(xyxy[members], anchor_sets, step, should_stop)
        done += len(members)
        counts.append(((h, w), len(members)))
        stopped = stopped or bool((best[members] < 0).any())
    wh_shapes, level_shapes = anchor_shapes(common[1] if common else ())
    xywh = gt.xywh[measured]
    return AnchorCoverage(gt_index=measured, best_iou=best, best_level=level, best_anchor=anchor,
                          gt_wh=xyxy[:, 2:] - xyxy[:, :2], area=xywh[:, 2] * xywh[:, 3],
                          category=gt.category_index[measured], image=gt.image_index[measured],
                          centre_xy=xywh[:, :2] + xywh[:, 2:] / 2, class_names=tuple(class_names),
                          positive_iou=float(source.positive_iou), rule=str(source.rule), model=str(source.name),
                          anchor_wh=wh_shapes, anchor_level=level_shapes, input_sizes=tuple(counts),
                          skipped=tuple(skipped), stopped=stopped)
