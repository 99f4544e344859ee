"""A measured anchor suggestion: YOLOv2's k-means on the objects' shapes, level by level, written in the model's
generator layout, and the coverage it would give, computed exactly as today's coverage (``evaluation.coverage``).

    suggestion = suggest_anchors(source, coverage, dataset.boxes, image_hw)
    suggestion.description      # "AnchorGenerator(sizes=((21.3,), ...), aspect_ratios=(...))"
    suggestion.coverage.share_below  next to  coverage.share_below

YOLOv2 clusters all boxes into the k shapes of its one grid. A pyramid places each shape on one level, whose
stride bounds how well a shape can be centred on an object (a 40 px anchor on a 64 px stride misses by up to 32
px), so clustering all objects into sum(k_l) shapes and spreading them over the levels by size puts
small-object shapes on coarse strides. Here each object goes to the level whose anchors are nearest its size
(sqrt(w h), on a log scale, as FPN assigns scales), and each level's objects are clustered into that level's
k_l shapes; a level with fewer objects than shapes keeps its anchors.

The source must also offer ``shapes_per_level()``, ``suggest(prototypes_per_level, input_hw)`` and
``describe()`` (``ops.model_anchors.TorchvisionAnchors`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.errors import DetviewerError
from detviewer.evaluation.anchor_kmeans import centred_iou, kmeans_anchors
from detviewer.evaluation.coverage import AnchorCoverage, AnchorSource, anchor_coverage

__all__ = ["AnchorSuggestion", "suggest_anchors", "assign_levels"]


class SuggestingSource(AnchorSource, Protocol):
    """An anchor source that can also be refitted (see the module docstring)."""

    def shapes_per_level(self) -> Sequence[int]: ...

    def suggest(self, prototypes_per_level: Sequence[np.ndarray | None],
                input_hw: tuple[int, int]) -> SuggestingSource: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, eq=False)
class AnchorSuggestion:
    """prototypes: per level, the k-means shapes (k_l, 2) (width, height in input pixels at ``input_hw``) or
    None where the level keeps its anchors; level_objects (L,): objects assigned to each level; mean_iou: mean
    IoU of the clustered objects with the nearest shape of their level (YOLOv2's "Avg IoU"); today /
    description: the model's generator and the suggested one as Python; coverage: what the suggested anchors
    cover; source: the model with the suggested generator (for the anchors view)."""

    prototypes: tuple[np.ndarray | None, ...]
    level_objects: np.ndarray
    mean_iou: float
    input_hw: tuple[int, int]
    today: str
    description: str
    coverage: AnchorCoverage
    source: object


def assign_levels(object_wh: np.ndarray, anchor_wh: np.ndarray, anchor_level: np.ndarray) -> np.ndarray:
    """(M,) the level whose anchors' typical size (geometric mean of sqrt(w h)) is nearest each object's sqrt(w h),
    on a log scale."""
    levels = int(anchor_level.max()) + 1 if len(anchor_level) else 0
    log_size = 0.5 * np.log(anchor_wh.prod(axis=1))
    typical = np.array([log_size[anchor_level == level].mean() for level in range(levels)])
    objects = 0.5 * np.log(np.asarray(object_wh, np.float64).prod(axis=1))
    return np.abs(objects[:, None] - typical[None, :]).argmin(axis=1)


def suggest_anchors(source: SuggestingSource, coverage: AnchorCoverage, gt: GroundTruthBoxes, image_hw: ArrayLike,
                    progress: Callable[[int, int], None] | None = None, should_stop: Callable[[], bool] | None = None,
                    seed: int = 0) -> AnchorSuggestion:
    """Per level k-means (see the module docstring) on the shapes of the objects ``coverage`` measured, fitted into
    the model's generator, and that generator's coverage of the same objects.

    Shapes are in input pixels (each object in its own image's input size, as the model sees it). DetviewerError
    when no level has as many objects as anchor shapes.
    """
    counts = [int(c) for c in source.shapes_per_level()]
    reached = coverage.best_iou >= 0
    wh = coverage.gt_wh[reached]
    level_of = assign_levels(wh, coverage.anchor_wh, coverage.anchor_level)
    prototypes: list[np.ndarray | None] = []
    iou_sum, clustered = 0.0, 0
    for level, k in enumerate(counts):
        members = wh[level_of == level]
        if len(members) < k:
            prototypes.append(None)
            continue
        clusters = kmeans_anchors(members, k, seed=seed)
        prototypes.append(clusters.prototypes)
        iou_sum += float(centred_iou(members, clusters.prototypes).max(axis=1).sum())
        clustered += len(members)
    if not clustered:
        raise DetviewerError(f"{int(reached.sum())} objects are too few to suggest anchors: no level has as many "
                             f"objects as anchor shapes ({', '.join(map(str, counts))}).")
    input_hw = max(coverage.input_sizes, key=lambda item: item[1])[0]
    suggested = source.suggest(prototypes, input_hw)
    measured = anchor_coverage(suggested, gt, image_hw, coverage.class_names, progress, should_stop)
    return AnchorSuggestion(prototypes=tuple(prototypes), level_objects=np.bincount(level_of, minlength=len(counts)),
                            mean_iou=iou_sum / clustered, input_hw=(input_hw[0], input_hw[1]), today=source.describe(),
                            description=suggested.describe(), coverage=measured, source=suggested)
