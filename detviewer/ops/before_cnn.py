"""Region proposals before CNNs: sliding windows, Selective Search, and R-CNN's crop-and-warp."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torchvision.ops import roi_align

from detviewer.ops.boxes import tensor_numpy


@dataclass(frozen=True)
class WindowScale:
    """All windows of one size: boxes (N, 4) float32 xyxy pixels."""

    width: int
    height: int
    stride: int
    boxes: np.ndarray


def sliding_windows(image_size: tuple[int, int], sizes: Sequence[float] = (64, 128, 256),
                    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                    stride_fraction: float = 0.25) -> list[WindowScale]:
    """Every window position a sliding-window detector would classify.

    image_size (H, W); a window of side ``s`` and ratio ``r`` (= h / w) has w = s/sqrt(r), h = s·sqrt(r),
    and moves by ``stride_fraction · min(w, h)`` pixels. Windows larger than the image are skipped.
    """
    height, width = image_size
    scales = []
    for size in sizes:
        for ratio in aspect_ratios:
            w = int(round(size / np.sqrt(ratio)))
            h = int(round(size * np.sqrt(ratio)))
            if w > width or h > height:
                continue
            stride = max(1, int(round(stride_fraction * min(w, h))))
            xs = np.arange(0, width - w + 1, stride, dtype=np.float32)
            ys = np.arange(0, height - h + 1, stride, dtype=np.float32)
            gx, gy = np.meshgrid(xs, ys)
            boxes = np.stack([gx.ravel(), gy.ravel(), gx.ravel() + w, gy.ravel() + h], axis=1)
            scales.append(WindowScale(w, h, stride, boxes.astype(np.float32)))
    return scales


def selective_search(image_rgb: np.ndarray, mode: str = "fast", max_side: int = 500) -> tuple[np.ndarray, float]:
    """OpenCV contrib's Selective Search proposals: ((N, 4) float32 xyxy original pixels, seconds).

    The image is shrunk so its longer side is at most ``max_side`` (Selective Search is slow on
    large images) and the boxes are scaled back. mode: "fast" or "quality".
    """
    import cv2

    if mode not in ("fast", "quality"):
        raise ValueError(f"mode must be 'fast' or 'quality', got {mode!r}")
    height, width = image_rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    small = cv2.resize(image_rgb, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA) if factor < 1 else image_rgb
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR))
    (search.switchToSelectiveSearchFast if mode == "fast" else search.switchToSelectiveSearchQuality)()
    start = time.perf_counter()
    rects = search.process()
    seconds = time.perf_counter() - start
    if len(rects) == 0:
        return np.zeros((0, 4), np.float32), seconds
    xywh = np.asarray(rects, np.float32) / factor
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return boxes, seconds


def crop_and_warp(image_rgb: np.ndarray, boxes_xyxy: ArrayLike, size: int = 227, context: int = 16) -> np.ndarray:
    """R-CNN's region warping: each box, padded by ``context`` pixels at the warped scale, resized
    anisotropically to size×size (bilinear, via torchvision.ops.roi_align).

    image_rgb (H, W, 3) uint8; boxes (N, 4) xyxy -> (N, size, size, 3) uint8.
    """
    boxes = torch.as_tensor(np.asarray(boxes_xyxy, np.float32)).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    # Pad so that, after warping, there are `context` pixels of surroundings on each side.
    inner = size - 2 * context
    w = (boxes[:, 2] - boxes[:, 0]).clamp(min=1)
    h = (boxes[:, 3] - boxes[:, 1]).clamp(min=1)
    pad_x, pad_y = w * context / inner, h * context / inner
    padded = torch.stack([boxes[:, 0] - pad_x, boxes[:, 1] - pad_y, boxes[:, 2] + pad_x, boxes[:, 3] + pad_y], 1)
    image = torch.from_numpy(np.ascontiguousarray(image_rgb)).permute(2, 0, 1)[None].float()
    rois = torch.cat([torch.zeros(len(padded), 1), padded], dim=1)
    warped = roi_align(image, rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return tensor_numpy(warped.clamp(0, 255).round().byte().permute(0, 2, 3, 1))
