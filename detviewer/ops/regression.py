"""Bounding-box regression targets, through torchvision's own BoxCoder.

(dx, dy, dw, dh) = (wx·(x − xa)/wa, wy·(y − ya)/ha, ww·log(w/wa), wh·log(h/ha)) with centres x, y
and sizes w, h; weights (wx, wy, ww, wh) are (1, 1, 1, 1) for the RPN and (10, 10, 5, 5) for
Faster R-CNN's box head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from torchvision.models.detection._utils import BoxCoder

from detviewer.ops.boxes import tensor_numpy

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
ROI_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def encode_deltas(reference_xyxy: ArrayLike, target_xyxy: ArrayLike, weights: Sequence[float] = RPN_WEIGHTS) -> np.ndarray:
    """Deltas that move each reference box (anchor / proposal) onto its target.

    reference_xyxy, target_xyxy (N, 4) xyxy pixels -> (N, 4) float32 (dx, dy, dw, dh).
    """
    coder = BoxCoder(weights=tuple(float(w) for w in weights))
    reference = torch.as_tensor(np.asarray(reference_xyxy, np.float32)).reshape(-1, 4)
    target = torch.as_tensor(np.asarray(target_xyxy, np.float32)).reshape(-1, 4)
    return tensor_numpy(coder.encode_single(target, reference))


def decode_deltas(reference_xyxy: ArrayLike, deltas: ArrayLike, weights: Sequence[float] = RPN_WEIGHTS) -> np.ndarray:
    """Apply (N, 4) deltas to (N, 4) reference boxes: the inverse of encode_deltas (N, 4) xyxy."""
    coder = BoxCoder(weights=tuple(float(w) for w in weights))
    reference = torch.as_tensor(np.asarray(reference_xyxy, np.float32)).reshape(-1, 4)
    codes = torch.as_tensor(np.asarray(deltas, np.float32)).reshape(-1, 4)
    return tensor_numpy(coder.decode_single(codes, reference))


def regression_targets(reference_xyxy: ArrayLike, target_xyxy: ArrayLike,
                       weights: Sequence[float] = RPN_WEIGHTS) -> np.ndarray:
    """The lecture's t* = (tx, ty, tw, th) = ((x* − x)/w, (y* − y)/h, log(w*/w), log(h*/h)) of each
    reference box (N, 4) towards its target (N, 4), xyxy pixels: torchvision's BoxCoder(weights).encode
    divided by the weights, so the numbers do not depend on them. (N, 4) float32."""
    codes = encode_deltas(reference_xyxy, target_xyxy, weights)
    return (codes / np.asarray(weights, np.float32)).astype(np.float32)


#: The classic slide's three proposals for one object: (name, centre shift in widths, width factor).
TEXTBOOK_CASES = (("on the object", 0.0, 1.0), ("25 % of its width to the left", -0.25, 1.0),
                  ("too wide (1.5×)", 0.0, 1.5))


def textbook_boxes(gt_xyxy: ArrayLike) -> np.ndarray:
    """(3, 4) float32 xyxy: proposals placed by hand around one object (4,) as TEXTBOOK_CASES say: exactly
    on it, shifted left by a quarter of its width, and 1.5 times as wide about the same centre."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(gt_xyxy, np.float64).reshape(4))
    w, cx = x2 - x1, (x1 + x2) / 2
    boxes = []
    for _, shift, factor in TEXTBOOK_CASES:
        centre, half = cx + shift * w, factor * w / 2
        boxes.append((centre - half, y1, centre + half, y2))
    return np.asarray(boxes, np.float32)
