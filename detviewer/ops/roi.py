"""RoI pooling of one region, through the model's own MultiScaleRoIAlign (and roi_pool to compare)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_pool


@dataclass(frozen=True, eq=False)
class RoIPooling:
    """How one box is pooled to a fixed grid.

    level: index into the pooler's feature maps (featmap_names[level] = level_name);
    spatial_scale: feature-map pixels per model-input pixel; box_feature (4,) the box projected on that
    map (feature pixels); bins_input (S, S, 4) xyxy of each output bin in model-input pixels;
    align (C, S, S) RoIAlign output (what the box head receives); align_heatmap / pool_heatmap (S, S):
    channel-mean of RoIAlign and of the quantised RoIPool for comparison; feature_size (H, W).
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


def pool_region(pooler: MultiScaleRoIAlign, features: dict[str, torch.Tensor], box_input_xyxy,
                input_size: tuple[int, int]) -> RoIPooling:
    """Pool ``box_input_xyxy`` (4,) model-input pixels the way ``pooler`` does for the box head.

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
    size_y, size_x = pooler.output_size
    x1, y1, x2, y2 = box[0].tolist()
    xs = np.linspace(x1, x2, size_x + 1, dtype=np.float32)
    ys = np.linspace(y1, y2, size_y + 1, dtype=np.float32)
    bins = np.empty((size_y, size_x, 4), np.float32)
    bins[..., 0], bins[..., 2] = xs[None, :-1], xs[None, 1:]
    bins[..., 1], bins[..., 3] = ys[:-1, None], ys[1:, None]
    return RoIPooling(
        level=level, level_name=names[level], spatial_scale=scale,
        box_feature=(box[0].cpu().numpy() * scale).astype(np.float32), bins_input=bins,
        align=aligned.cpu().numpy(), align_heatmap=aligned.mean(0).cpu().numpy(),
        pool_heatmap=pooled.mean(0).cpu().numpy(), feature_size=tuple(int(v) for v in feature.shape[-2:]),
    )
