"""Anchor shapes from the data: k-means on ground-truth (width, height) with distance 1 - IoU (YOLOv2).

Redmon & Farhadi (YOLO9000, CVPR 2017, section "Dimension Clusters"): boxes are compared by shape only, as
if they shared a centre, with d(box, centroid) = 1 - IoU(box, centroid), so that large boxes do not dominate as
with a Euclidean distance; centroids are the members' mean (width, height). Seeded with k-means++ under the
same distance, restarted ``n_init`` times, and the run with the highest mean IoU of every box with its
nearest centroid ("Avg IoU" in the paper) is kept. Deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["KMeansAnchors", "kmeans_anchors", "centred_iou", "MAX_KMEANS_BOXES"]

#: More boxes than this are subsampled (deterministically) before clustering: k-means needs the shape of
#: the distribution, and the (boxes x k) IoU matrix stays small.
MAX_KMEANS_BOXES = 200_000


def centred_iou(wh: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(N, K) IoU of boxes (N, 2) and centroids (K, 2), both (width, height), as if centred on one point."""
    wh, centroids = np.asarray(wh, np.float64), np.asarray(centroids, np.float64)
    inter = np.minimum(wh[:, None, 0], centroids[None, :, 0]) * np.minimum(wh[:, None, 1], centroids[None, :, 1])
    union = (wh[:, 0] * wh[:, 1])[:, None] + (centroids[:, 0] * centroids[:, 1])[None, :] - inter
    return inter / union


@dataclass(frozen=True, eq=False)
class KMeansAnchors:
    """prototypes (k, 2) (width, height) sorted by area; mean_iou: mean over the boxes of the IoU with the
    nearest prototype; assignment (N,) the prototype of each box (of the boxes clustered); iterations."""

    prototypes: np.ndarray
    mean_iou: float
    assignment: np.ndarray
    iterations: int

    @property
    def sizes(self) -> np.ndarray:
        """(k,) sqrt(w * h) of each prototype."""
        return np.sqrt(self.prototypes.prod(axis=1))

    @property
    def ratios(self) -> np.ndarray:
        """(k,) h / w of each prototype (torchvision's aspect ratio)."""
        return self.prototypes[:, 1] / self.prototypes[:, 0]


def _seed(wh: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ under d = 1 - IoU: each next centroid drawn with probability proportional to d^2."""
    centroids = [wh[rng.integers(len(wh))]]
    nearest = 1.0 - centred_iou(wh, np.array(centroids))[:, 0]
    for _ in range(1, k):
        weights = nearest ** 2
        total = weights.sum()
        pick = rng.choice(len(wh), p=weights / total) if total > 0 else rng.integers(len(wh))
        centroids.append(wh[pick])
        nearest = np.minimum(nearest, 1.0 - centred_iou(wh, wh[pick][None])[:, 0])
    return np.array(centroids, np.float64)


def _run(wh: np.ndarray, k: int, rng: np.random.Generator, max_iter: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    centroids = _seed(wh, k, rng)
    assignment = np.full(len(wh), -1)
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is returned after the loop
        iou = centred_iou(wh, centroids)
        new = iou.argmax(axis=1)
        if np.array_equal(new, assignment):
            break
        assignment = new
        counts = np.bincount(assignment, minlength=k)
        sums = np.stack([np.bincount(assignment, wh[:, j], minlength=k) for j in (0, 1)], axis=1)
        empty = counts == 0
        centroids[~empty] = sums[~empty] / counts[~empty, None]
        if empty.any():  # an emptied cluster restarts at the boxes fitting their centroid worst
            worst = np.argsort(iou[np.arange(len(wh)), assignment], kind="stable")[:int(empty.sum())]
            centroids[empty] = wh[worst]
    iou = centred_iou(wh, centroids)
    assignment = iou.argmax(axis=1)
    return centroids, assignment, float(iou.max(axis=1).mean()), iteration


def kmeans_anchors(wh: ArrayLike, k: int, seed: int = 0, n_init: int = 3, max_iter: int = 300) -> KMeansAnchors:
    """YOLOv2's dimension clusters of boxes ``wh`` (N, 2) (width, height > 0), k of them (N >= k)."""
    wh = np.asarray(wh, np.float64).reshape(-1, 2)
    if k < 1 or len(wh) < k:
        raise ValueError(f"k-means needs at least k = {k} boxes, got {len(wh)}")
    if (wh <= 0).any() or not np.isfinite(wh).all():
        raise ValueError("box widths and heights must be finite and positive")
    rng = np.random.default_rng(seed)
    if len(wh) > MAX_KMEANS_BOXES:
        wh = wh[np.sort(rng.choice(len(wh), MAX_KMEANS_BOXES, replace=False))]
    best = _run(wh, k, rng, max_iter)
    for _ in range(max(1, n_init) - 1):
        run = _run(wh, k, rng, max_iter)
        if run[2] > best[2]:
            best = run
    centroids, assignment, mean_iou, iterations = best
    order = np.argsort(centroids.prod(axis=1), kind="stable")
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    return KMeansAnchors(centroids[order], mean_iou, rank[assignment], iterations)
