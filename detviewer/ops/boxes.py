"""Numpy front-ends to ``torchvision.ops`` box helpers (Qt-free).

Every function takes numpy arrays or torch tensors (any device) and returns numpy.
Boxes are ``(N, 4)`` in the named format, pixels; ``xyxy`` means (x1, y1, x2, y2)
with no +1 in widths, as in torchvision.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import torch
from numpy.typing import ArrayLike
from torchvision import ops

__all__ = ["as_numpy", "as_tensor", "box_iou_np", "box_area", "clip_boxes", "to_xyxy", "from_xyxy", "ArrayOrTensor",
           "tensor_numpy"]

#: What the functions here take: a numpy array, anything numpy turns into one, or a torch tensor on any device.
ArrayOrTensor: TypeAlias = "ArrayLike | torch.Tensor"

_FORMATS = ("xyxy", "xywh", "cxcywh")


def tensor_numpy(tensor: torch.Tensor) -> np.ndarray:
    """``tensor.numpy()`` of a CPU tensor, typed (torch and torchvision results are untyped)."""
    array: np.ndarray = tensor.numpy()
    return array


def as_numpy(value: ArrayOrTensor) -> np.ndarray:
    """A numpy array from a numpy array, list or torch tensor on any device (copied to the CPU)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return tensor_numpy(value.float() if value.dtype == torch.bfloat16 else value)
    return np.asarray(value)


def as_tensor(value: ArrayOrTensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A CPU tensor sharing memory with ``value`` where possible (numpy, list or any-device tensor)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
    else:
        tensor = torch.as_tensor(np.ascontiguousarray(value))
    return tensor if dtype is None else tensor.to(dtype)


def _boxes(value: ArrayOrTensor) -> torch.Tensor:
    tensor = as_tensor(value)
    if not tensor.is_floating_point() or tensor.dtype == torch.float16:
        tensor = tensor.float()
    if tensor.numel() == 0:
        return tensor.reshape(0, 4)
    if tensor.dim() != 2 or tensor.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {tuple(tensor.shape)}")
    return tensor


def box_iou_np(boxes1: ArrayOrTensor, boxes2: ArrayOrTensor) -> np.ndarray:
    """IoU of every pair: boxes1 (N, 4), boxes2 (M, 4) xyxy -> (N, M) float32 (float64 if both are)."""
    return tensor_numpy(ops.box_iou(_boxes(boxes1), _boxes(boxes2)))


def box_area(boxes: ArrayOrTensor) -> np.ndarray:
    """Areas (N,) of boxes (N, 4) xyxy; negative for inverted boxes, as torchvision computes them."""
    return tensor_numpy(ops.box_area(_boxes(boxes)))


def clip_boxes(boxes: ArrayOrTensor, size: tuple[int, int]) -> np.ndarray:
    """Clip boxes (N, 4) xyxy to an image of ``size`` = (height, width) pixels."""
    return tensor_numpy(ops.clip_boxes_to_image(_boxes(boxes), (int(size[0]), int(size[1]))))


def to_xyxy(boxes: ArrayOrTensor, fmt: str = "cxcywh") -> np.ndarray:
    """Convert boxes (N, 4) from ``fmt`` ("xywh" or "cxcywh") to xyxy."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    return tensor_numpy(ops.box_convert(_boxes(boxes), fmt, "xyxy"))


def from_xyxy(boxes: ArrayOrTensor, fmt: str = "cxcywh") -> np.ndarray:
    """Convert boxes (N, 4) from xyxy to ``fmt`` ("xywh" or "cxcywh")."""
    if fmt not in _FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    return tensor_numpy(ops.box_convert(_boxes(boxes), "xyxy", fmt))
