"""What a classic sliding-window detector computed (Qt-free, numpy only): its image pyramid, the raw windows it
accepted at every scale with their scores, and OpenCV's neighbour grouping of those windows.

Filled by detectors/classic.py (Viola–Jones Haar cascades, Dalal–Triggs HOG + linear SVM, both OpenCV's);
read by the views render/model/views/classic_*.py. All boxes are xyxy float32 in original-image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PyramidLevel", "ClassicTrace", "Groups", "similar_rects", "partition_rects", "group_rectangles"]


@dataclass(frozen=True)
class PyramidLevel:
    """One scale of the pyramid a sliding-window detector scans.

    factor: how much larger than the base window the window is, in original pixels (OpenCV's ``scale``; the image
    is shrunk by it); image_size (h, w): the shrunk image OpenCV scans (cvRound(original / factor));
    window (h, w): the window in original pixels (cvRound(base window * factor)); step: the window's stride in the
    shrunk image's pixels; grid (rows, cols): the window positions at this scale.
    """

    factor: float
    image_size: tuple[int, int]
    window: tuple[int, int]
    step: int
    grid: tuple[int, int]

    @property
    def positions(self) -> int:
        return int(self.grid[0]) * int(self.grid[1])


@dataclass(frozen=True, eq=False)
class Groups:
    """OpenCV's neighbour grouping (cv::groupRectangles) of the raw windows, cluster by cluster.

    labels (R,) int64: each raw window's cluster (cv::partition of the "similar" relation: every corner within
    eps × the mean of the smaller sides); boxes (C, 4): each cluster's average window; counts (C,): its windows
    (OpenCV's "neighbours"); kept (C,) bool: whether it survives (more than ``min_neighbors`` windows and not inside
    a stronger cluster); inside (C,) int64: the cluster that swallowed it (-1 if none).
    """

    labels: np.ndarray
    boxes: np.ndarray
    counts: np.ndarray
    kept: np.ndarray
    inside: np.ndarray
    min_neighbors: int
    eps: float

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True, eq=False)
class ClassicTrace:
    """One run of a classic detector.

    method: "haar" (a Viola–Jones cascade) or "hog" (HOG features + a linear SVM); base_window (h, w): the window
    the classifier was trained on (24×24 for the frontal face, 64×128 for HOG people); scale_factor: the pyramid's
    ratio between scales; levels: the pyramid; raw_xyxy (R, 4) / raw_scores (R,) / raw_level (R,) int64: every
    window the classifier accepted, its score (the cascade's last-stage sum, the SVM margin) and its pyramid level;
    margins: HOG only, one (rows, cols) float32 SVM margin per level for every window position (grid order), else
    (); threshold: the score a window needs to count as raw (HOG's hit threshold; the cascade: all stages passed);
    groups: the grouping that gives the detections.
    """

    method: str
    base_window: tuple[int, int]
    scale_factor: float
    levels: tuple[PyramidLevel, ...]
    raw_xyxy: np.ndarray
    raw_scores: np.ndarray
    raw_level: np.ndarray
    groups: Groups
    margins: tuple[np.ndarray, ...] = ()
    threshold: float = 0.0

    @property
    def raw_count(self) -> int:
        return int(self.raw_xyxy.shape[0])

    @property
    def positions(self) -> int:
        """Window positions over the whole pyramid."""
        return sum(level.positions for level in self.levels)


def similar_rects(a: np.ndarray, b: np.ndarray, eps: float) -> bool:
    """cv::SimilarRects on two (x, y, w, h) int rects: every edge within eps × the mean of the smaller sides."""
    delta = eps * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
    return bool(abs(a[0] - b[0]) <= delta and abs(a[1] - b[1]) <= delta
                and abs(a[0] + a[2] - b[0] - b[2]) <= delta and abs(a[1] + a[3] - b[1] - b[3]) <= delta)


def partition_rects(rects_xywh: np.ndarray, eps: float) -> np.ndarray:
    """cv::partition with SimilarRects: (R,) int64 cluster labels, numbered by first appearance; a cluster is a
    connected component of the "similar" relation (similar to a similar rect is enough)."""
    rects = np.asarray(rects_xywh, np.int64).reshape(-1, 4)
    parent = list(range(len(rects)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(rects)):
        for j in range(i):
            if similar_rects(rects[i], rects[j], eps):
                parent[root(i)] = root(j)
    labels = np.empty(len(rects), np.int64)
    first: dict[int, int] = {}
    for i in range(len(rects)):
        labels[i] = first.setdefault(root(i), len(first))
    return labels


def group_rectangles(rects_xywh: np.ndarray, min_neighbors: int, eps: float = 0.2) -> Groups:
    """cv::groupRectangles(rects, min_neighbors, eps) kept cluster by cluster (the same boxes as OpenCV's).

    rects_xywh (R, 4) int; a cluster's box is its windows' mean, each side rounded as OpenCV does; it is kept when it
    holds more than ``min_neighbors`` windows and no other such cluster (with more than max(3, its count) windows,
    or any when it has fewer than 3) contains it within eps of that cluster's size. Boxes come back as xyxy.
    """
    rects = np.asarray(rects_xywh, np.int64).reshape(-1, 4)
    if min_neighbors <= 0:  # OpenCV returns the windows as they are
        every = np.arange(len(rects), dtype=np.int64)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1).astype(np.float32)
        return Groups(every, boxes, np.ones(len(rects), np.int64), np.ones(len(rects), bool),
                      np.full(len(rects), -1, np.int64), int(min_neighbors), float(eps))
    labels = partition_rects(rects, eps)
    n = int(labels.max()) + 1 if len(labels) else 0
    counts = np.bincount(labels, minlength=n).astype(np.int64)
    sums = np.zeros((n, 4), np.int64)
    np.add.at(sums, labels, rects)
    # OpenCV: saturate_cast<int>(sum * (1.f / count)) in single precision, rounded half to even
    mean = np.rint(sums.astype(np.float32) * (np.float32(1) / counts.astype(np.float32))[:, None]).astype(np.int64)
    kept, inside = np.zeros(n, bool), np.full(n, -1, np.int64)
    for i in range(n):
        n1 = counts[i]
        if n1 <= min_neighbors:
            continue
        for j in range(n):
            n2 = counts[j]
            if j == i or n2 <= min_neighbors:
                continue
            r1, r2 = mean[i], mean[j]
            dx, dy = int(np.rint(np.float64(r2[2]) * eps)), int(np.rint(np.float64(r2[3]) * eps))
            if (r1[0] >= r2[0] - dx and r1[1] >= r2[1] - dy and r1[0] + r1[2] <= r2[0] + r2[2] + dx
                    and r1[1] + r1[3] <= r2[1] + r2[3] + dy and (n2 > max(3, n1) or n1 < 3)):
                inside[i] = j
                break
        kept[i] = inside[i] < 0
    boxes = np.concatenate([mean[:, :2], mean[:, :2] + mean[:, 2:]], axis=1).astype(np.float32).reshape(-1, 4)
    return Groups(labels, boxes, counts, kept, inside, int(min_neighbors), float(eps))
