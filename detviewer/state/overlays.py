"""Boxes drawn over a frame's detections from outside the model's own result (Qt-free): the boxes behind a
dataset-evaluation number, a second model's detections, the objects one model found and the other missed.
They belong to one image (its path) and go away when another is shown."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Overlay"]


@dataclass(frozen=True, eq=False)
class Overlay:
    """xyxy (N, 4) float32 original pixels; labels: N short texts (or none); color (r, g, b); legend: what the
    boxes are, for the figure's legend; dashed / width: how they are drawn (width in screen pixels)."""

    name: str
    xyxy: np.ndarray
    color: tuple[int, int, int]
    legend: str
    labels: tuple[str, ...] = ()
    dashed: bool = True
    width: float = 3.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, np.float32).reshape(-1, 4))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])
