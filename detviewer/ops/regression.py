"""Bounding-box regression targets, through torchvision's own BoxCoder.

(dx, dy, dw, dh) = (wx·(x − xa)/wa, wy·(y − ya)/ha, ww·log(w/wa), wh·log(h/ha)) with centres x, y
and sizes w, h; weights (wx, wy, ww, wh) are (1, 1, 1, 1) for the RPN and (10, 10, 5, 5) for
Faster R-CNN's box head.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection._utils import BoxCoder

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
ROI_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def encode_deltas(reference_xyxy, target_xyxy, weights=RPN_WEIGHTS) -> np.ndarray:
    """Deltas that move each reference box (anchor / proposal) onto its target.

    reference_xyxy, target_xyxy (N, 4) xyxy pixels -> (N, 4) float32 (dx, dy, dw, dh).
    """
    coder = BoxCoder(weights=tuple(float(w) for w in weights))
    reference = torch.as_tensor(np.asarray(reference_xyxy, np.float32)).reshape(-1, 4)
    target = torch.as_tensor(np.asarray(target_xyxy, np.float32)).reshape(-1, 4)
    return coder.encode_single(target, reference).numpy()


def decode_deltas(reference_xyxy, deltas, weights=RPN_WEIGHTS) -> np.ndarray:
    """Apply (N, 4) deltas to (N, 4) reference boxes: the inverse of encode_deltas (N, 4) xyxy."""
    coder = BoxCoder(weights=tuple(float(w) for w in weights))
    reference = torch.as_tensor(np.asarray(reference_xyxy, np.float32)).reshape(-1, 4)
    codes = torch.as_tensor(np.asarray(deltas, np.float32)).reshape(-1, 4)
    return coder.decode_single(codes, reference).numpy()
