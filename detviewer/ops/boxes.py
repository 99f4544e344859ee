"""Numpy front-ends to ``torchvision.ops`` box helpers (Qt-free).

Every function takes numpy arrays or torch tensors (any device) and returns numpy.
Boxes are ``(N, 4)`` in the named format, pixels; ``xyxy`` means (x1, y1, x2, y2)
with no +1 in widths, as in torchvision.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision import ops

__all__ = ["as_numpy", "as_tensor", "box_iou_np", "box_area", "clip_boxes", "to_xyxy", "from_xyxy"]

_FORMATS = ("xyxy", "xywh", "cxcywh")


def as_numpy(value) -> np.ndarray:
    """A numpy array from a numpy array, list or torch tensor on any device (copied to the CPU)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    return np.asarray(value)


def as_tensor(value, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A CPU tensor sharing memory with ``value`` where possible (numpy, list or any-device tensor)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
    else:
        tensor = torch.as_tensor(np.ascontiguousarray(value))
    return tensor if dtype is None else tensor.to(dtype)


def _boxes(value) -> torch.Tensor:
    tensor = as_tensor(value)
    if not tensor.is_floating_point() or tensor.dtype == torch.float16:
        tensor = tensor.float()
    if tensor.numel() == 0:
        return tensor.reshape(0, 4)
    if tensor.dim() != 2 or tensor.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {tuple(tensor.shape)}")
    return tensor


def box_iou_np(boxes1, boxes2) -> np.ndarray:
    """IoU of every pair: boxes1 (N, 4), boxes2 (M, 4) xyxy -> (N, M) float32 (float64 if both are)."""
    return ops.box_iou(_boxes(boxes1), _boxes(boxes2)).numpy()


def box_area(boxes) -> np.ndarray:
    """Areas (N,) of boxes (N, 4) xyxy; negative for inverted boxes, as torchvision computes them."""
    return ops.box_area(_boxes(boxes)).numpy()


def clip_boxes(boxes, size: tuple[int, int]) -> np.ndarray:
    """Clip boxes (N, 4) xyxy to an image of ``size`` = (height, width) pixels."""
    return ops.clip_boxes_to_image(_boxes(boxes), (int(size[0]), int(size[1]))).numpy()


def to_xyxy(boxes, fmt: str = "cxcywh") -> np.ndarray:
    """Convert boxes (N, 4) from ``fmt`` ("xywh" or "cxcywh") to xyxy."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    return ops.box_convert(_boxes(boxes), fmt, "xyxy").numpy()


def from_xyxy(boxes, fmt: str = "cxcywh") -> np.ndarray:
    """Convert boxes (N, 4) from xyxy to ``fmt`` ("xywh" or "cxcywh")."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    return ops.box_convert(_boxes(boxes), "xyxy", fmt).numpy()
