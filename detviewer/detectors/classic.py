"""The classic detectors, real and offline: OpenCV's Viola–Jones Haar cascades and its Dalal–Triggs HOG + linear SVM
people detector, as Detectors whose Inference carries what they computed (core.classic.ClassicTrace).

Both slide a fixed window over an image pyramid and classify every crop; the windows they accept (the raw windows)
are then merged by OpenCV's neighbour grouping (cv::groupRectangles). Here the raw windows come from one OpenCV
call with grouping off (the cascade: ``detectMultiScale3(minNeighbors=0, outputRejectLevels=True)``, whose level
weights are the last stage's sums; HOG: ``detectMultiScale`` with group threshold 0, whose weights are the SVM
margins) and are grouped by core.classic.group_rectangles, which gives OpenCV's boxes cluster by cluster.

A detection's score is the logistic of its best window's score (the cascade's last-stage sum, the SVM margin), so
that the window's 0..1 thresholds apply; the views show the raw scores. Images over ``MAX_SIDE`` pixels are
shrunk before the scan (a 24 MP photo has millions of positions); boxes come back in original pixels.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from detviewer.core.classic import ClassicTrace, PyramidLevel, group_rectangles
from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.detectors.base import Detector
from detviewer.errors import CheckpointError, DetectorError

__all__ = ["CASCADES", "MAX_SIDE", "HaarCascadeDetector", "HogPeopleDetector", "haar_pyramid", "hog_pyramid", "load"]

#: registry name -> (OpenCV's cascade file in cv2.data.haarcascades, the class it finds)
CASCADES: dict[str, tuple[str, str]] = {
    "haar-frontalface": ("haarcascade_frontalface_default.xml", "face"),
    "haar-catface": ("haarcascade_frontalcatface.xml", "cat face"),
    "haar-fullbody": ("haarcascade_fullbody.xml", "person"),
    "haar-upperbody": ("haarcascade_upperbody.xml", "upper body"),
}
#: the longest side a classic detector scans (larger frames are shrunk first)
MAX_SIDE = 1024
_GROUP_EPS = 0.2  # OpenCV's GROUP_EPS, for the cascade and HOG alike


def _round(x) -> int:
    """cvRound: to nearest, halves to even."""
    return int(np.rint(x))


def haar_pyramid(image_size: tuple[int, int], window: tuple[int, int], scale_factor: float,
                 min_size: tuple[int, int] = (0, 0)) -> tuple[PyramidLevel, ...]:
    """The scales a cascade scans, as CascadeClassifier::detectMultiScale computes them.

    image_size / window / min_size (h, w). Factors 1, s, s², … (double) while the window cvRound(base × factor)
    fits the image; the scanned image is cvRound(size / factor) with the factor in single precision; the step is 2 px
    below factor 2, else 1 px; positions x = 0, step, … up to scanned width − window width (rows alike).
    """
    height, width = image_size
    levels, factor = [], 1.0
    while True:
        win_h, win_w = _round(window[0] * factor), _round(window[1] * factor)
        if win_w > width or win_h > height:
            break
        if win_w >= min_size[1] and win_h >= min_size[0]:
            sc = np.float32(factor)
            size = (_round(np.float32(height) / sc), _round(np.float32(width) / sc))
            step = 1 if sc >= 2 else 2
            grid = (max(size[0] - window[0], -1) // step + 1, max(size[1] - window[1], -1) // step + 1)
            levels.append(PyramidLevel(float(sc), size, (win_h, win_w), step, grid))
        factor *= scale_factor
    return tuple(levels)


def hog_pyramid(image_size: tuple[int, int], window: tuple[int, int], scale_factor: float, stride: int,
                max_levels: int = 64) -> tuple[PyramidLevel, ...]:
    """The scales HOGDescriptor::detectMultiScale scans (no padding): 1, s, s², … while cvRound(size / s) still
    holds the window, at most ``max_levels``; positions every ``stride`` px of the scanned image."""
    height, width = image_size
    levels, scale = [], 1.0
    for _ in range(max_levels):
        size = (_round(height / scale), _round(width / scale))
        if size[0] < window[0] or size[1] < window[1]:
            break
        grid = ((size[0] - window[0]) // stride + 1, (size[1] - window[1]) // stride + 1)
        levels.append(PyramidLevel(scale, size, (_round(window[0] * scale), _round(window[1] * scale)), stride, grid))
        scale *= scale_factor
    return tuple(levels)


def _working_image(image_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame shrunk so that its longest side is at most MAX_SIDE (INTER_AREA), and shrunk / original."""
    image = np.ascontiguousarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DetectorError(f"a classic detector needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}.")
    longest = max(image.shape[:2])
    if longest <= MAX_SIDE:
        return image, 1.0
    scale = MAX_SIDE / longest
    size = (max(1, _round(image.shape[1] * scale)), max(1, _round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _xywh_to_xyxy(rects) -> np.ndarray:
    r = np.asarray(rects, np.float32).reshape(-1, 4)
    return np.concatenate([r[:, :2], r[:, :2] + r[:, 2:]], axis=1)


def _level_of(widths: np.ndarray, levels: tuple[PyramidLevel, ...]) -> np.ndarray:
    """Each raw window's pyramid level, from its width (cvRound(base × factor) differs between levels)."""
    level_widths = np.array([level.window[1] for level in levels], np.int64)
    return np.abs(widths.astype(np.int64)[:, None] - level_widths[None, :]).argmin(axis=1).astype(np.int64)


class _SlidingWindowDetector(Detector):
    """What both classic detectors share: the working image, grouping, and the Inference they return."""

    method = ""
    base_window: tuple[int, int] = (0, 0)

    def __init__(self, name: str, class_name: str, scale_factor: float, min_neighbors: int) -> None:
        self.name = name
        self.class_names = ("__background__", class_name)
        self.device = "cpu"
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.nms = NMSParams(iou_threshold=0.5, score_threshold=0.0)

    def _raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
        """(rects (R, 4) int xywh in working pixels, scores (R,), levels, margins) of one scan."""
        raise NotImplementedError

    def infer(self, image_rgb: np.ndarray) -> Inference:
        start = time.perf_counter()
        image, shrink = _working_image(image_rgb)
        rects, scores, levels, margins = self._raw(image)
        scan = time.perf_counter()
        groups = group_rectangles(rects, self.min_neighbors, _GROUP_EPS)
        raw_xyxy = _xywh_to_xyxy(rects) / np.float32(shrink)
        best = np.full(len(groups), -np.inf, np.float64)
        np.maximum.at(best, groups.labels, scores.astype(np.float64))
        kept = np.flatnonzero(groups.kept)
        boxes = groups.boxes[kept] / np.float32(shrink)
        score = (1.0 / (1.0 + np.exp(-best[kept]))).astype(np.float32)
        order = np.argsort(-score, kind="stable")
        detections = Detections(boxes[order], score[order], np.ones(len(kept), np.int64), self.class_names)
        trace = ClassicTrace(
            self.method, self.base_window, self.scale_factor, levels, raw_xyxy, scores.astype(np.float32),
            _level_of(rects[:, 2], levels) if len(rects) else np.zeros(0, np.int64), groups,
            margins, 0.0)
        height, width = image_rgb.shape[:2]
        timings = {"scan": (scan - start) * 1000, "grouping": (time.perf_counter() - scan) * 1000}
        return Inference(self.name, (height, width), detections, detections, self.nms, timings=timings,
                         device="cpu", input_size=image.shape[:2], scale=(shrink, shrink), classic=trace)


class HaarCascadeDetector(_SlidingWindowDetector):
    """A Viola–Jones cascade of boosted Haar-feature stumps (OpenCV's CascadeClassifier) on the grey image.

    scale_factor: the pyramid's ratio (OpenCV's scaleFactor); min_neighbors: how many raw windows a cluster needs
    beyond itself to be a detection (OpenCV's minNeighbors).
    """

    method = "haar"

    def __init__(self, name: str, path: str | Path, class_name: str, scale_factor: float = 1.1,
                 min_neighbors: int = 3) -> None:
        super().__init__(name, class_name, scale_factor, min_neighbors)
        self.path = str(path)
        self.cascade = cv2.CascadeClassifier()
        try:
            ok = self.cascade.load(self.path)
        except cv2.error:
            ok = False
        if not ok or self.cascade.empty():
            raise CheckpointError(f"{self.path} is not an OpenCV cascade file that CascadeClassifier can load.")
        size = self.cascade.getOriginalWindowSize()
        self.base_window = (int(size[1]), int(size[0]))

    def _raw(self, image: np.ndarray):
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        levels = haar_pyramid(gray.shape[:2], self.base_window, self.scale_factor)
        rects, _stages, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=0, outputRejectLevels=True)
        rects = np.asarray(rects, np.int64).reshape(-1, 4)
        return rects, np.asarray(weights, np.float64).reshape(-1), levels, ()


class HogPeopleDetector(_SlidingWindowDetector):
    """Dalal–Triggs: HOG features of a 64×128 window scored by OpenCV's default linear SVM for people.

    Every position of every scale gets its SVM margin (``ClassicTrace.margins``); a window with a margin above
    ``hit_threshold`` is raw; group_threshold is OpenCV's (its finalThreshold before OpenCV 5).
    """

    method = "hog"

    def __init__(self, name: str = "hog-people", scale_factor: float = 1.05, stride: int = 8,
                 hit_threshold: float = 0.0, group_threshold: int = 2) -> None:
        super().__init__(name, "person", scale_factor, group_threshold)
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.base_window = (int(self.hog.winSize[1]), int(self.hog.winSize[0]))
        self.stride, self.hit_threshold = int(stride), float(hit_threshold)

    def _raw(self, image: np.ndarray):
        stride, pad = (self.stride, self.stride), (0, 0)
        levels = hog_pyramid(image.shape[:2], self.base_window, self.scale_factor, self.stride, self.hog.nlevels)
        # positional: OpenCV 5's detectMultiScale takes no finalThreshold keyword; group threshold 0 = no grouping
        rects, weights = self.hog.detectMultiScale(image, self.hit_threshold, stride, pad, self.scale_factor, 0, False)
        margins = tuple(self._margins(image, level) for level in levels)
        return np.asarray(rects, np.int64).reshape(-1, 4), np.asarray(weights, np.float64).reshape(-1), levels, margins

    def _margins(self, image: np.ndarray, level: PyramidLevel) -> np.ndarray:
        """(rows, cols) float32: the SVM margin of every window position of one scale."""
        h, w = level.image_size
        scaled = image if (h, w) == image.shape[:2] else cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        points, weights = self.hog.detect(scaled, -1e9, (self.stride, self.stride), (0, 0))
        grid = np.full(level.grid, np.nan, np.float32)
        points = np.asarray(points, np.int64).reshape(-1, 2) // self.stride
        grid[points[:, 1], points[:, 0]] = np.asarray(weights, np.float32).reshape(-1)
        return grid


def load(info, weights: str, device: str, progress=None) -> Detector:
    """The registry's loader: weights "default" (the model OpenCV's wheel ships) or, for a cascade, an .xml file."""
    if weights in ("coco", "none"):
        raise DetectorError(f"{info.name} is OpenCV's trained classifier: it has no '{weights}' weights; use default.")
    if progress is not None:
        progress(None, f"Loading {info.name}…")
    if info.name == "hog-people":
        if weights != "default":
            raise DetectorError("hog-people runs OpenCV's built-in people SVM; it takes no weights file.")
        return HogPeopleDetector()
    file, class_name = CASCADES[info.name]
    path = Path(cv2.data.haarcascades) / file if weights == "default" else Path(weights)
    return HaarCascadeDetector(info.name, path, class_name)
