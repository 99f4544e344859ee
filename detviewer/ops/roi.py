"""RoI pooling of one region, through the model's own MultiScaleRoIAlign, and Fast R-CNN's RoIPool on the
same feature map to compare.

Besides the pooled outputs, ``RoIPooling`` carries where each output bin reads: RoIPool's whole feature
cells (the box rounded to cells, then each bin's cells by floor / ceil) and RoIAlign's bilinear sampling
points. ``max_over_cells`` and ``average_of_samples`` recompute both outputs from those positions by hand;
the tests check them against ``torchvision.ops.roi_pool`` and ``roi_align``, so what the view draws is what
the operators read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torchvision.ops import MultiScaleRoIAlign, roi_pool

__all__ = ["RoIPooling", "pool_region", "roi_pool_cells", "roi_align_points", "max_over_cells",
           "average_of_samples", "c_round"]


@dataclass(frozen=True, eq=False)
class RoIPooling:
    """How one box is pooled to a fixed S×S grid, both ways.

    level: index into the pooler's feature maps (featmap_names[level] = level_name); spatial_scale:
    feature-map pixels per model-input pixel; box_feature (4,) float32 the box on that map (feature
    pixels); bins_input (S, S, 4) xyxy of each RoIAlign bin in model-input pixels; align (C, S, S)
    RoIAlign output (what the box head receives); pool (C, S, S) torchvision's roi_pool (Fast R-CNN's
    RoIPool) on the same map; align_heatmap / pool_heatmap (S, S) their channel means; feature_size (H, W).
    pool_cells (S, S, 4) int64: the feature cells [x0, x1) × [y0, y1) each RoIPool bin takes the max over
    (empty when x1 <= x0 or y1 <= y0); align_points (S, S, P, 2) float32: RoIAlign's P bilinear sampling
    points (x, y) per bin, feature pixels (a cell's centre is at integer + 0).
    """

    level: int
    level_name: str
    spatial_scale: float
    box_feature: np.ndarray
    bins_input: np.ndarray
    align: np.ndarray
    align_heatmap: np.ndarray
    pool_heatmap: np.ndarray
    feature_size: tuple[int, int]
    pool: np.ndarray | None = None
    pool_cells: np.ndarray | None = None
    align_points: np.ndarray | None = None


def c_round(values: ArrayLike) -> np.ndarray:
    """C's ``round`` (halves away from zero), as torchvision's kernels round; numpy rounds halves to even."""
    v = np.asarray(values, np.float64)
    rounded: np.ndarray = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return rounded


def roi_pool_cells(box_input_xyxy: ArrayLike, spatial_scale: float, output_size: tuple[int, int],
                   feature_size: tuple[int, int]) -> np.ndarray:
    """The feature cells each RoIPool bin reads, as torchvision's ``roi_pool`` kernel computes them.

    box_input_xyxy (4,) model-input pixels; returns (S_h, S_w, 4) int64 [x0, y0, x1, y1): rows y0..y1 - 1,
    columns x0..x1 - 1. strategy: the box is rounded to whole cells (``round(x · scale)``, float32 like the
    kernel), its width is end - start + 1 cells, bin i spans floor(i · w / S) .. ceil((i + 1) · w / S),
    then everything is clamped to the map.
    """
    box = np.asarray(box_input_xyxy, np.float32).reshape(4) * np.float32(spatial_scale)
    x1, y1, x2, y2 = c_round(box).tolist()
    height, width = feature_size
    size_h, size_w = output_size
    roi_w, roi_h = max(x2 - x1 + 1, 1.0), max(y2 - y1 + 1, 1.0)
    bin_w, bin_h = np.float32(roi_w / size_w), np.float32(roi_h / size_h)
    pw, ph = np.arange(size_w, dtype=np.float32), np.arange(size_h, dtype=np.float32)
    xs0 = np.clip(np.floor(pw * bin_w) + x1, 0, width)
    xs1 = np.clip(np.ceil((pw + 1) * bin_w) + x1, 0, width)
    ys0 = np.clip(np.floor(ph * bin_h) + y1, 0, height)
    ys1 = np.clip(np.ceil((ph + 1) * bin_h) + y1, 0, height)
    cells = np.empty((size_h, size_w, 4), np.int64)
    cells[..., 0], cells[..., 2] = xs0[None, :], xs1[None, :]
    cells[..., 1], cells[..., 3] = ys0[:, None], ys1[:, None]
    return cells


def max_over_cells(feature: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """RoIPool by hand: feature (C, H, W), cells (S_h, S_w, 4) from ``roi_pool_cells`` -> (C, S_h, S_w),
    the max over each bin's cells (0 for an empty bin, as torchvision)."""
    channels = feature.shape[0]
    out = np.zeros((channels, *cells.shape[:2]), np.float32)
    for i, j in np.ndindex(*cells.shape[:2]):
        x0, y0, x1, y1 = cells[i, j].tolist()
        if x1 > x0 and y1 > y0:
            out[:, i, j] = feature[:, y0:y1, x0:x1].reshape(channels, -1).max(axis=1)
    return out


def roi_align_points(box_input_xyxy: ArrayLike, spatial_scale: float, output_size: tuple[int, int], sampling_ratio: int,
                     aligned: bool = False) -> np.ndarray:
    """RoIAlign's sampling points, as torchvision's ``roi_align`` kernel places them: (S_h, S_w, g_h·g_w, 2)
    float32 (x, y) feature pixels, g = sampling_ratio (or ceil(bin size) when it is <= 0), evenly inside
    each bin at (i + 0.5) / g of it; ``aligned`` shifts the box by half a pixel (MultiScaleRoIAlign: False)."""
    offset = 0.5 if aligned else 0.0
    box = np.asarray(box_input_xyxy, np.float32).reshape(4) * np.float32(spatial_scale) - np.float32(offset)
    x1, y1, x2, y2 = (float(v) for v in box)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    size_h, size_w = output_size
    bin_w, bin_h = roi_w / size_w, roi_h / size_h
    g_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / size_h)
    g_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / size_w)
    ys = y1 + (np.arange(size_h)[:, None] + (np.arange(g_h)[None, :] + 0.5) / g_h) * bin_h   # (S_h, g_h)
    xs = x1 + (np.arange(size_w)[:, None] + (np.arange(g_w)[None, :] + 0.5) / g_w) * bin_w   # (S_w, g_w)
    points = np.empty((size_h, size_w, g_h, g_w, 2), np.float32)
    points[..., 0] = xs[None, :, None, :]
    points[..., 1] = ys[:, None, :, None]
    return points.reshape(size_h, size_w, g_h * g_w, 2)


def _bilinear(feature: np.ndarray, x: float, y: float) -> np.ndarray:
    """torchvision's bilinear_interpolate: 0 beyond one pixel outside the map, edges clamped."""
    channels, height, width = feature.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(channels, np.float32)
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * feature[:, y_low, x_low] + hy * lx * feature[:, y_low, x_high]
            + ly * hx * feature[:, y_high, x_low] + ly * lx * feature[:, y_high, x_high])


def average_of_samples(feature: np.ndarray, points: np.ndarray) -> np.ndarray:
    """RoIAlign by hand: feature (C, H, W), points (S_h, S_w, P, 2) from ``roi_align_points`` -> (C, S_h, S_w),
    the mean of each bin's bilinear samples."""
    out = np.zeros((feature.shape[0], *points.shape[:2]), np.float32)
    for i, j in np.ndindex(*points.shape[:2]):
        samples = [_bilinear(feature, float(x), float(y)) for x, y in points[i, j]]
        out[:, i, j] = np.mean(samples, axis=0)
    return out


def _bins_input(box: list[float], output_size: tuple[int, int]) -> np.ndarray:
    size_y, size_x = output_size
    x1, y1, x2, y2 = box
    xs = np.linspace(x1, x2, size_x + 1, dtype=np.float32)
    ys = np.linspace(y1, y2, size_y + 1, dtype=np.float32)
    bins = np.empty((size_y, size_x, 4), np.float32)
    bins[..., 0], bins[..., 2] = xs[None, :-1], xs[None, 1:]
    bins[..., 1], bins[..., 3] = ys[:-1, None], ys[1:, None]
    return bins


def pool_region(pooler: MultiScaleRoIAlign, features: dict[str, torch.Tensor], box_input_xyxy: ArrayLike,
                input_size: tuple[int, int]) -> RoIPooling:
    """Pool ``box_input_xyxy`` (4,) model-input pixels the way ``pooler`` does for the box head, and with
    RoIPool on the same feature map.

    features: the backbone's output (name -> (1, C, H, W)); input_size: (H, W) of the resized image.
    """
    box = torch.as_tensor(np.asarray(box_input_xyxy, np.float32)).reshape(1, 4)
    device = next(iter(features.values())).device
    box = box.to(device)
    with torch.no_grad():
        aligned = pooler(features, [box], [tuple(input_size)])[0]
        names = list(pooler.featmap_names)
        level = int(pooler.map_levels([box])[0]) if len(names) > 1 else 0
        scale = float(pooler.scales[level])
        feature = features[names[level]]
        rois = torch.cat([torch.zeros(1, 1, device=device), box], dim=1)
        pooled = roi_pool(feature, rois, output_size=pooler.output_size, spatial_scale=scale)[0]
    output_size = (int(pooler.output_size[0]), int(pooler.output_size[1]))
    feature_size = (int(feature.shape[-2]), int(feature.shape[-1]))
    box_np = box[0].cpu().numpy()
    return RoIPooling(
        level=level, level_name=names[level], spatial_scale=scale,
        box_feature=(box_np * np.float32(scale)).astype(np.float32),
        bins_input=_bins_input(box_np.tolist(), output_size),
        align=aligned.cpu().numpy(), align_heatmap=aligned.mean(0).cpu().numpy(),
        pool_heatmap=pooled.mean(0).cpu().numpy(), feature_size=feature_size, pool=pooled.cpu().numpy(),
        pool_cells=roi_pool_cells(box_np, scale, output_size, feature_size),
        align_points=roi_align_points(box_np, scale, output_size, int(pooler.sampling_ratio)),
    )

