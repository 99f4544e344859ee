"""Fakes and fixtures for driving the real MainWindow offscreen.

FakeDetector returns five hand-placed candidates on any frame; their IoUs (computed by hand,
no +1 in widths) make the kept set depend on the IoU threshold:

    A [10,10,110,110] cat 0.9   B [20,20,120,120] cat 0.8   C [40,40,140,140] cat 0.7
    D [200,50,300,150] dog 0.6  E [205,55,305,155] cat 0.3
    IoU(A,B) = 8100/11900 = 0.681   IoU(A,C) = 4900/15100 = 0.325   IoU(B,C) = 6400/13600 = 0.471
    IoU(D,E) = 9025/10975 = 0.822 (different classes: only class-agnostic NMS compares them)
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.detectors.base import Detector

CLASS_NAMES = ("__background__", "cat", "dog")
BOXES = np.array([[10, 10, 110, 110], [20, 20, 120, 120], [40, 40, 140, 140],
                  [200, 50, 300, 150], [205, 55, 305, 155]], np.float32)
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.3], np.float32)
LABELS = np.array([1, 1, 1, 2, 1], np.int64)
A, B, C, D, E = range(5)


class FakeDetector(Detector):
    """Counts calls; can sleep, raise once, or block until released."""

    name = "fake"
    class_names = CLASS_NAMES
    capabilities = frozenset()
    nms = NMSParams(iou_threshold=0.5, score_threshold=0.2)

    def __init__(self, delay: float = 0.0, boxes=BOXES, scores=SCORES, labels=LABELS):
        self.delay = delay
        self.calls = 0
        self.raise_next: Exception | None = None
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.closed = False
        self.boxes, self.scores, self.labels = boxes, scores, labels
        self.frames_seen: list[int] = []

    def infer(self, image_rgb):
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        if self.delay:
            time.sleep(self.delay)
        if self.raise_next is not None:
            exc, self.raise_next = self.raise_next, None
            raise exc
        h, w = image_rgb.shape[:2]
        self.frames_seen.append(int(image_rgb[0, 0, 0]))
        cand = Detections(self.boxes, self.scores, self.labels, CLASS_NAMES)
        return Inference(model_name="fake", image_size=(h, w), detections=cand, candidates=cand, nms=self.nms,
                         timings={"model": 1.0}, input_size=(h, w))

    def close(self):
        self.closed = True


class FakeLoader:
    """Stands in for registry.load_detector; records the requests."""

    def __init__(self, detector: FakeDetector | None = None, fail: Exception | None = None):
        self.detector = detector or FakeDetector()
        self.fail = fail
        self.requests: list[tuple[str, str, str]] = []

    def __call__(self, name, weights, device, progress):
        self.requests.append((name, weights, device))
        if progress is not None:
            progress(0.5, "half way")
        if self.fail is not None:
            raise self.fail
        return self.detector


def write_image(path, value: int = 60, size=(240, 320)) -> str:
    image = np.full((*size, 3), value, np.uint8)
    cv2.imwrite(str(path), image)
    return str(path)


def write_video(path, frames: int = 12, size=(120, 160), fps: float = 25.0) -> str:
    """A short MJPG AVI whose frame k is uniformly grey with value (10 + 10 k) mod 250 (to tell frames apart)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size[1], size[0]))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((*size, 3), (10 + 10 * k) % 250, np.uint8))
    writer.release()
    return str(path)


class ReentryCheckingDetector(FakeDetector):
    """Fails (records a violation) when two threads are inside it at once: infer and pool_region both count."""

    capabilities = frozenset({"proposals"})

    def __init__(self, delay: float = 0.01):
        super().__init__(delay=delay)
        self._inside = 0
        self._lock = threading.Lock()
        self.violations = 0
        self.pooled = 0

    def _enter(self):
        with self._lock:
            self._inside += 1
            if self._inside > 1:
                self.violations += 1

    def _leave(self):
        with self._lock:
            self._inside -= 1

    def infer(self, image_rgb):
        self._enter()
        try:
            return super().infer(image_rgb)
        finally:
            self._leave()

    def pool_region(self, box_xyxy, inference, image_rgb=None):
        self._enter()
        try:
            time.sleep(self.delay)
            self.pooled += 1
            return ("pooled", tuple(float(v) for v in box_xyxy))
        finally:
            self._leave()


def load_toy_detector(info, weights, device, progress):
    """A registry loader (ModelInfo.loader "gui_fakes:load_toy_detector") for the add-a-detector test."""
    detector = FakeDetector()
    detector.name = info.name
    detector.capabilities = None  # an adapter does not re-declare them: the registry entry says
    return detector
