"""A measured anchor suggestion: YOLOv2's k-means on the objects' shapes, written in the model's generator
layout, and the coverage it would give, computed exactly as today's coverage (``evaluation.coverage``).

    suggestion = suggest_anchors(source, coverage, dataset.boxes, image_hw)
    suggestion.description      # "AnchorGenerator(sizes=((21.3,), ...), aspect_ratios=(...))"
    suggestion.coverage.share_below  next to  coverage.share_below

The source must also offer ``shapes_per_level()``, ``suggest(prototypes_wh, input_hw)`` and ``describe()``
(``ops.model_anchors.TorchvisionAnchors`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from detviewer.errors import DetviewerError
from detviewer.evaluation.anchor_kmeans import KMeansAnchors, kmeans_anchors
from detviewer.evaluation.coverage import AnchorCoverage, anchor_coverage

__all__ = ["AnchorSuggestion", "suggest_anchors"]


@dataclass(frozen=True, eq=False)
class AnchorSuggestion:
    """kmeans: the clusters (prototypes in input pixels at ``input_hw``); today / description: the model's
    generator and the suggested one as Python; coverage: what the suggested anchors cover; source: the model
    with the suggested generator (for the anchors view)."""

    kmeans: KMeansAnchors
    input_hw: tuple[int, int]
    today: str
    description: str
    coverage: AnchorCoverage
    source: object


def suggest_anchors(source, coverage: AnchorCoverage, gt, image_hw, progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, seed: int = 0) -> AnchorSuggestion:
    """k-means (k = the model's anchor shapes per location, over all levels) on the shapes of the objects
    ``coverage`` measured, fitted into the model's generator, and that generator's coverage of the same objects.

    The prototypes are in input pixels of the most common input size (objects of other input sizes are
    clustered in their own input pixels: the model sees them so). DetviewerError when there are fewer objects
    than anchor shapes.
    """
    k = int(sum(source.shapes_per_level()))
    reached = coverage.best_iou >= 0
    if int(reached.sum()) < k:
        raise DetviewerError(f"{int(reached.sum())} objects are too few to suggest {k} anchor shapes.")
    clusters = kmeans_anchors(coverage.gt_wh[reached], k, seed=seed)
    input_hw = max(coverage.input_sizes, key=lambda item: item[1])[0] if coverage.input_sizes else (0, 0)
    suggested = source.suggest(clusters.prototypes, input_hw)
    measured = anchor_coverage(suggested, gt, image_hw, coverage.class_names, progress, should_stop)
    return AnchorSuggestion(kmeans=clusters, input_hw=tuple(input_hw), today=source.describe(),
                            description=suggested.describe(), coverage=measured, source=suggested)
