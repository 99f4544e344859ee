"""Anchor, default-box and grid geometry read from the models' own generators.

Nothing here re-derives torchvision's anchors: ``run_generator`` calls the generator module itself
and ``anchor_sets`` only splits its output per level and attaches the level's description.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from detviewer.core.types import AnchorSet

#: The model's anchor generator: torchvision's AnchorGenerator or DefaultBoxGenerator (untyped).
Generator = Any
#: One level's AnchorSet fields but its boxes (``level_layouts``).
Layout = dict[str, Any]


def anchor_sets(generator: Generator, anchors_xyxy: np.ndarray, grid_sizes: Sequence[tuple[int, int]],
                padded_size: tuple[int, int]) -> tuple[AnchorSet, ...]:
    """Split a generator's output per feature level.

    generator: the model's AnchorGenerator or DefaultBoxGenerator.
    anchors_xyxy (K, 4) float32: its output for one image (any pixel space: input or original).
    grid_sizes: (H_l, W_l) of each feature map; padded_size: (H, W) of the batched input tensor.
    """
    return split_levels(level_layouts(generator, grid_sizes, padded_size), anchors_xyxy)


def level_layouts(generator: Generator, grid_sizes: Sequence[tuple[int, int]],
                  padded_size: tuple[int, int]) -> tuple[Layout, ...]:
    """What ``split_levels`` needs from the generator, read once: per level, the AnchorSet fields but its boxes."""
    per_location = generator.num_anchors_per_location()
    return tuple(dict(level=level, feature_size=(h, w), anchors_per_location=a,
                      **_level_description(generator, level, padded_size, (h, w)))
                 for level, ((h, w), a) in enumerate(zip(grid_sizes, per_location)))


def split_levels(layouts: Sequence[Layout], anchors_xyxy: np.ndarray) -> tuple[AnchorSet, ...]:
    """The AnchorSets of ``level_layouts`` with their slices of anchors_xyxy (K, 4), in the generator's order."""
    sets, offset = [], 0
    for layout in layouts:
        h, w = layout["feature_size"]
        count = h * w * layout["anchors_per_location"]
        sets.append(AnchorSet(boxes=anchors_xyxy[offset: offset + count], **layout))
        offset += count
    if offset != len(anchors_xyxy):
        raise ValueError(f"generator made {len(anchors_xyxy)} anchors but the levels account for {offset}")
    return tuple(sets)


def _level_description(generator: Generator, level: int, padded: tuple[int, int], grid: tuple[int, int]) -> Layout:
    if isinstance(generator, DefaultBoxGenerator):
        # With ``steps`` (SSD300: 8, 16, 32, 64, 100, 300) cell centres sit at (j + 0.5) * step.
        step = generator.steps[level] if generator.steps else None
        stride = (float(step), float(step)) if step else (padded[0] / grid[0], padded[1] / grid[1])
        return dict(stride=stride,
                    scales=tuple(float(s) for s in generator.scales[level: level + 2]),
                    aspect_ratios=tuple(float(r) for r in generator.aspect_ratios[level]),
                    name=f"scale {level + 1}")
    # AnchorGenerator uses integer strides: padded size // grid size.
    return dict(stride=(float(padded[0] // grid[0]), float(padded[1] // grid[1])),
                sizes=tuple(float(s) for s in generator.sizes[level]),
                aspect_ratios=tuple(float(r) for r in generator.aspect_ratios[level]),
                name=f"level {level + 1}")


def run_generator(generator: Generator, image_size: tuple[int, int],
                  grid_sizes: Sequence[tuple[int, int]]) -> tuple[AnchorSet, ...]:
    """Anchors the generator makes for an input of ``image_size`` (H, W) with these feature maps.

    Boxes are in input pixels. Cheap: the feature maps are empty 1-channel tensors.
    """
    if not isinstance(generator, (AnchorGenerator, DefaultBoxGenerator)):
        raise TypeError(f"expected an AnchorGenerator or DefaultBoxGenerator, got {type(generator).__name__}")
    h, w = image_size
    images = ImageList(torch.zeros(1, 3, h, w), [(h, w)])
    features = [torch.zeros(1, 1, gh, gw) for gh, gw in grid_sizes]
    with torch.no_grad():
        anchors = generator(images, features)[0]
    return anchor_sets(generator, anchors.numpy().astype(np.float32), grid_sizes, (h, w))


def ssd_scales(s_min: float, s_max: float, m: int) -> list[float]:
    """The SSD paper's scales s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), k = 1..m."""
    if m == 1:
        return [s_min]
    return [s_min + (s_max - s_min) * (k - 1) / (m - 1) for k in range(1, m + 1)]


def ssd_boxes_per_location(aspect_ratios: Sequence[float]) -> int:
    """Default boxes per cell for SSD's ratio list {2, 3} meaning {2, 1/2, 3, 1/3}: 2 + 2·len(ratios)."""
    return 2 + 2 * len(aspect_ratios)


def cell_at(point_xy: tuple[float, float], anchors: AnchorSet, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[int, int] | None:
    """The feature cell (y, x) of ``anchors`` whose stride window contains an original-image point.

    scale (sy, sx) maps original pixels to model-input pixels (Inference.scale). None when outside.
    AnchorGenerator centres anchors at ``index * stride`` (cell top-left), so the cell is the
    nearest centre; DefaultBoxGenerator centres at ``(index + 0.5) * stride``.
    """
    x = point_xy[0] * scale[1]
    y = point_xy[1] * scale[0]
    sy, sx = anchors.stride
    h, w = anchors.feature_size
    if anchors.scales:  # SSD: centres in the middle of each cell
        cy, cx = math.floor(y / sy), math.floor(x / sx)
    else:
        cy, cx = math.floor(y / sy + 0.5), math.floor(x / sx + 0.5)
    if 0 <= cy < h and 0 <= cx < w:
        return int(cy), int(cx)
    return None


def yolo_cell(point_xy: tuple[float, float], image_size: tuple[int, int], grid: int) -> tuple[int, int] | None:
    """The S×S grid cell (row, col) responsible for an object centred at ``point_xy``."""
    height, width = image_size
    x, y = point_xy
    if not (0 <= x < width and 0 <= y < height):
        return None
    return int(y * grid // height), int(x * grid // width)
