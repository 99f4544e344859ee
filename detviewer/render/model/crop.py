"""Zooming a figure onto part of the frame (Qt-free): the window around some layers' boxes, and the frame's
image and layers cut to it, so a slide can show a proposal's feature cells large enough to read.

All coordinates are original-image pixels; a cut shifts every layer by the window's top-left corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ImageLayer, Layer, SegmentLayer, TextLayer

__all__ = ["zoom_window", "crop_frame"]


def zoom_window(layers: Sequence[Layer], names: tuple[str, ...], image_size: tuple[int, int], aspect: float,
                margin: float = 0.6) -> np.ndarray | None:
    """(4,) float32 xyxy: the union of the boxes of the layers called ``names``, grown by ``margin`` of its size
    on each side, widened to ``aspect`` (width / height), slid and clipped inside the (H, W) frame; None when
    those layers hold no box or the window would be the whole frame."""
    boxes = [layer.xyxy for layer in layers if isinstance(layer, BoxLayer) and layer.name in names and len(layer)]
    if not boxes:
        return None
    stacked = np.concatenate(boxes)
    x1, y1 = stacked[:, :2].min(0)
    x2, y2 = stacked[:, 2:].max(0)
    w, h = (x2 - x1) * (1 + 2 * margin), (y2 - y1) * (1 + 2 * margin)
    w, h = max(w, h * aspect), max(h, w / aspect)
    height, width = image_size
    if w >= width and h >= height:
        return None
    w, h = min(w, width), min(h, height)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = float(np.clip(cx - w / 2, 0, width - w))
    top = float(np.clip(cy - h / 2, 0, height - h))
    return np.array([left, top, left + w, top + h], np.float32)


def _shifted(layer: Layer, dx: float, dy: float) -> Layer:
    if isinstance(layer, BoxLayer):
        return replace(layer, xyxy=layer.xyxy - np.array([dx, dy, dx, dy], np.float32))
    if isinstance(layer, SegmentLayer):
        return replace(layer, segments=layer.segments - np.array([dx, dy, dx, dy], np.float32))
    if isinstance(layer, TextLayer):
        return replace(layer, positions=layer.positions - np.array([dx, dy], np.float32))
    if isinstance(layer, HeatmapLayer):
        return replace(layer, rect=layer.rect - np.array([dx, dy, dx, dy], np.float32))
    if isinstance(layer, ImageLayer):
        return replace(layer, rects=layer.rects - np.array([dx, dy, dx, dy], np.float32))
    return layer


def crop_frame(image: np.ndarray, layers: Sequence[Layer], window: ArrayLike) -> tuple[np.ndarray, list[Layer]]:
    """(the image (H, W, 3) cut to ``window`` (4,) xyxy rounded out to whole pixels, the layers shifted to it)."""
    height, width = image.shape[:2]
    window = np.asarray(window, np.float64)
    x1, y1 = int(np.floor(max(window[0], 0))), int(np.floor(max(window[1], 0)))
    x2, y2 = int(np.ceil(min(window[2], width))), int(np.ceil(min(window[3], height)))
    return np.ascontiguousarray(image[y1:y2, x1:x2]), [_shifted(layer, x1, y1) for layer in layers]
