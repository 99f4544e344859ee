"""YOLO's letterbox and its way back, exactly as Ultralytics 8.4 computes them.

Read from Ultralytics' own code: ``data/augment.py`` ``LetterBox.get_params`` / ``apply_image`` (resize
keeping the aspect ratio, sides rounded and at least 1 px, padding split with ``round(d / 2 ∓ 0.1)``, grey
114), ``engine/predictor.py`` ``pre_transform`` (the smallest stride-multiple rectangle, ``auto=True``, for
dynamic-shape exports; the export's fixed size otherwise) and ``utils/ops.py`` ``scale_boxes`` (the way
back recomputes its gains per axis from the *rounded* resized size and its padding from the input shape,
then clips). YOLOv5's own ``scale_boxes`` (the yolov5 repository's ``utils/general.py``) maps back with one
gain and an unrounded padding instead: ``yolov5_box_mapping``.

``val_letterbox_geometry`` is ``yolo val``'s preprocessing instead (``data/base.py`` ``load_image``: the long
side resized to imgsz first; ``LetterBox(scaleup=False)``; ``set_rectangle``'s per-batch rectangle with val's
half-stride pad for dynamic exports, here for a batch of one image), and ``LetterboxGeometry.mapping`` the exact
inverse of how val moves the labels into the input (unrounded ratio, then the padding), so IoUs computed in
original pixels are the ones val computes in input pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["LETTERBOX_FILL", "LetterboxGeometry", "BoxMapping", "letterbox_geometry", "val_letterbox_geometry",
           "letterbox_image",
           "to_input_batch", "ultralytics_box_mapping", "yolov5_box_mapping", "clip_boxes"]

LETTERBOX_FILL = 114  # Ultralytics' grey padding


@dataclass(frozen=True)
class LetterboxGeometry:
    """Where an image lands in the model input.

    input_hw: (H, W) of the model input; resized_hw: (h, w) of the resized image inside it, placed at
    (top, left); ratio: the resize factor (resized ≈ original × ratio); pre_resize_hw: (h, w) the image is
    resized to first (``yolo val``'s load_image), None for none; gains: (x, y) original -> input pixels as
    val scales its labels (None: not a val geometry).
    """

    input_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    top: int
    left: int
    ratio: float
    pre_resize_hw: tuple[int, int] | None = None
    gains: tuple[float, float] | None = None

    def mapping(self) -> BoxMapping:
        """Input -> original pixels as val's labels were moved (the gains, then the padding)."""
        if self.gains is None:
            raise ValueError("only a val_letterbox_geometry carries its label gains")
        return BoxMapping(self.gains[0], self.gains[1], float(self.left), float(self.top))


@dataclass(frozen=True)
class BoxMapping:
    """Model-input pixels -> original pixels: original = (input - pad) / gain, per axis."""

    gain_x: float
    gain_y: float
    pad_x: float
    pad_y: float

    def to_original(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """boxes (N, 4) float32 xyxy, input pixels -> (N, 4) float32 xyxy, original pixels (not clipped)."""
        boxes = np.array(boxes_xyxy, np.float32, copy=True).reshape(-1, 4)
        # Same float32 steps as Ultralytics' in-place tensor arithmetic: subtract the pad, then divide.
        boxes[:, [0, 2]] -= np.float32(self.pad_x)
        boxes[:, [1, 3]] -= np.float32(self.pad_y)
        boxes[:, [0, 2]] /= np.float32(self.gain_x)
        boxes[:, [1, 3]] /= np.float32(self.gain_y)
        return boxes


def letterbox_geometry(image_hw: tuple[int, int], target_hw: tuple[int, int], stride: int = 32,
                       minimum_rectangle: bool = False) -> LetterboxGeometry:
    """Ultralytics' ``LetterBox(target_hw, auto=minimum_rectangle, stride=stride).get_params`` (centred, scale-up).

    minimum_rectangle: pad only up to the next multiple of ``stride`` (dynamic-shape exports) instead of
    to ``target_hw`` (fixed-size exports).
    """
    h0, w0 = image_hw
    th, tw = target_hw
    ratio = min(th / h0, tw / w0)
    new_w, new_h = max(round(w0 * ratio), 1), max(round(h0 * ratio), 1)
    dw: float
    dh: float
    dw, dh = tw - new_w, th - new_h
    if minimum_rectangle:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return LetterboxGeometry((new_h + top + bottom, new_w + left + right), (new_h, new_w), top, left, float(ratio))


def val_letterbox_geometry(image_hw: tuple[int, int], target_hw: tuple[int, int], stride: int = 32,
                           rectangular: bool = False) -> LetterboxGeometry:
    """``yolo val``'s geometry for one image: long side resized to ``max(target_hw)`` (``load_image``), then
    ``LetterBox(new_shape, scaleup=False)`` into ``target_hw`` (fixed exports) or, ``rectangular`` (dynamic
    exports), into ``set_rectangle``'s shape for a batch of this image alone (val's pad 0.5 stride)."""
    h0, w0 = image_hw
    imgsz = max(target_hw)
    r = imgsz / max(h0, w0)
    h1, w1 = (h0, w0) if r == 1 else (min(math.ceil(h0 * r), imgsz), min(math.ceil(w0 * r), imgsz))
    if rectangular:
        aspect = h0 / w0
        shape = [aspect, 1] if aspect < 1 else [1, 1 / aspect] if aspect > 1 else [1, 1]
        th, tw = (int(v) for v in np.ceil(np.array(shape) * imgsz / stride + 0.5).astype(int) * stride)
    else:
        th, tw = target_hw
    ratio = min(th / h1, tw / w1, 1.0)
    new_w, new_h = max(round(w1 * ratio), 1), max(round(h1 * ratio), 1)
    dw, dh = (tw - new_w) / 2, (th - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return LetterboxGeometry((new_h + top + bottom, new_w + left + right), (new_h, new_w), top, left,
                             float(ratio * w1 / w0), (h1, w1) if r != 1 else None,
                             (w1 * ratio / w0, h1 * ratio / h0))


def letterbox_image(image: np.ndarray, geometry: LetterboxGeometry) -> np.ndarray:
    """image (H0, W0, 3) uint8 -> (H, W, 3) uint8: resized with cv2 INTER_LINEAR (first to ``pre_resize_hw``
    if set), padded with grey 114."""
    import cv2

    if geometry.pre_resize_hw is not None and image.shape[:2] != geometry.pre_resize_hw:
        image = cv2.resize(image, geometry.pre_resize_hw[::-1], interpolation=cv2.INTER_LINEAR)
    h, w = geometry.resized_hw
    if image.shape[:2] != (h, w):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((*geometry.input_hw, 3), LETTERBOX_FILL, np.uint8)
    canvas[geometry.top:geometry.top + h, geometry.left:geometry.left + w] = image
    return canvas


def to_input_batch(letterboxed: np.ndarray, dtype: DTypeLike = np.float32) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) in ``dtype``, 0..1 (divided by 255 in float32 as Ultralytics does)."""
    batch = np.ascontiguousarray(letterboxed.transpose(2, 0, 1)[None], np.float32) / np.float32(255.0)
    return batch.astype(dtype, copy=False)


def ultralytics_box_mapping(input_hw: tuple[int, int], image_hw: tuple[int, int]) -> BoxMapping:
    """Ultralytics' ``scale_boxes(input_hw, boxes, image_hw)`` without ``ratio_pad``.

    It recomputes the gain from the two shapes, rounds each resized side as LetterBox did, and maps each
    axis with its own gain (rounded side / original side) and the rounded padding of a centred image.
    """
    (h1, w1), (h0, w0) = input_hw, image_hw
    gain = min(h1 / h0, w1 / w0)
    new_h, new_w = max(round(h0 * gain), 1), max(round(w0 * gain), 1)
    pad_x, pad_y = round((w1 - new_w) / 2 - 0.1), round((h1 - new_h) / 2 - 0.1)
    return BoxMapping(new_w / w0, new_h / h0, float(pad_x), float(pad_y))


def yolov5_box_mapping(input_hw: tuple[int, int], image_hw: tuple[int, int]) -> BoxMapping:
    """YOLOv5's ``scale_boxes``: one gain for both axes and the unrounded padding (input - original × gain) / 2."""
    (h1, w1), (h0, w0) = input_hw, image_hw
    gain = min(h1 / h0, w1 / w0)
    return BoxMapping(gain, gain, (w1 - w0 * gain) / 2, (h1 - h0 * gain) / 2)


def clip_boxes(boxes_xyxy: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(N, 4) float32 xyxy clipped to [0, W] × [0, H] (a new array)."""
    h, w = image_hw
    return np.clip(np.asarray(boxes_xyxy, np.float32).reshape(-1, 4), 0, np.array([w, h, w, h], np.float32))
