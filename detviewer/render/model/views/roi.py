"""RoI pooling view: a proposal, its projection on the feature map the box head pools from, the S×S
bins, and the pooled activations as a heatmap over the box.

The pooling itself comes from the detector (``Detector.pool_region(roi_box(inference, state))``,
a core.roi.RoIPooling computed by the model's own MultiScaleRoIAlign) and is passed in the state;
this module only converts it to drawing layers in original pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detviewer.core.types import Inference
from detviewer.render.model.colors import SELECT
from detviewer.render.model.spec import Control, Prepare, ViewRequest, ViewSpec
from detviewer.render.model.primitives import (
    ARROW, BoxLayer, HeatmapLayer, SegmentLayer, ViewError, ViewFrame, as_gt, fmt_num, grid_lines, gt_layer, solid,
)

if TYPE_CHECKING:  # core.roi imports torch; the window imports the views before any model is loaded
    from detviewer.ops.roi import RoIPooling

__all__ = ["RoIViewState", "roi_box", "roi_frame", "roi_steps", "bin_segments", "feature_cell_segments",
           "quantised_box", "STEP_NAMES", "POOLINGS"]

STEP_NAMES = ("Proposal", "Feature map", "Bins", "Pooled")
POOLINGS = ("align", "pool")


@dataclass(frozen=True)
class RoIViewState:
    """proposal: index into inference.proposals (default the best); box: any (4,) xyxy original
    pixels instead; pooling: what the detector computed for ``roi_box(inference, state)``;
    which: show RoIAlign ("align", what the box head uses) or the quantised RoIPool ("pool");
    step: lecture step (0 proposal … 3 pooled heatmap), None shows everything."""

    proposal: int | None = None
    box: tuple[float, float, float, float] | None = None
    pooling: "RoIPooling | None" = None
    which: str = "align"
    step: int | None = None

    def __post_init__(self) -> None:
        if self.which not in POOLINGS:
            raise ValueError(f"which must be one of {POOLINGS}, got {self.which!r}")


def roi_box(inference: Inference, state: RoIViewState) -> np.ndarray:
    """(4,) float32 xyxy original pixels: the box to pool (``state.box``, else the chosen proposal)."""
    if state.box is not None:
        return np.asarray(state.box, np.float32).reshape(4)
    props = inference.proposals
    if props is None or len(props) == 0:
        raise ViewError(f"{inference.model_name} has no proposals to pool; RoI pooling needs a two-stage model "
                        "such as demo-frcnn.")
    i = 0 if state.proposal is None else int(state.proposal)
    if not 0 <= i < len(props):
        raise ViewError(f"proposal {i} does not exist ({len(props)} proposals).")
    return props.xyxy[i].copy()


def roi_steps(inference: Inference, gt=None) -> int:
    """Lecture steps: proposal, projection on the feature map, bins, pooled heatmap."""
    return len(STEP_NAMES)


def _to_original(xs_input: np.ndarray, ys_input: np.ndarray, scale) -> tuple[np.ndarray, np.ndarray]:
    return xs_input / scale[1], ys_input / scale[0]


def bin_segments(pooling: "RoIPooling", scale: tuple[float, float]) -> np.ndarray:
    """Borders of the S×S output bins in original pixels: (2(S + 1), 4) segments."""
    bins = pooling.bins_input
    xs = np.concatenate([bins[0, :, 0], bins[0, -1:, 2]])
    ys = np.concatenate([bins[:, 0, 1], bins[-1:, 0, 3]])
    xs, ys = _to_original(xs, ys, scale)
    return grid_lines(xs, ys, (xs[0], xs[-1]), (ys[0], ys[-1]))


def feature_cell_segments(pooling: "RoIPooling", scale: tuple[float, float]) -> np.ndarray:
    """Borders of the feature-map cells the box touches, in original pixels (segments (N, 4))."""
    x1, y1, x2, y2 = pooling.box_feature.tolist()
    xs = np.arange(math.floor(x1), math.ceil(x2) + 1, dtype=np.float32)
    ys = np.arange(math.floor(y1), math.ceil(y2) + 1, dtype=np.float32)
    xs, ys = _to_original(xs / pooling.spatial_scale, ys / pooling.spatial_scale, scale)
    return grid_lines(xs, ys, (xs[0], xs[-1]), (ys[0], ys[-1]))


def quantised_box(pooling: "RoIPooling", scale: tuple[float, float]) -> np.ndarray:
    """(4,) xyxy original pixels of the region torchvision's roi_pool really reads: the box rounded
    to whole feature cells, ``[round(x1), round(x2) + 1)``."""
    x1, y1, x2, y2 = (float(v) for v in pooling.box_feature)
    xs = np.array([round(x1), round(x2) + 1], np.float32) / pooling.spatial_scale
    ys = np.array([round(y1), round(y2) + 1], np.float32) / pooling.spatial_scale
    xs, ys = _to_original(xs, ys, scale)
    return np.array([xs[0], ys[0], xs[1], ys[1]], np.float32)


def roi_frame(inference: Inference, state: RoIViewState, gt=None) -> ViewFrame:
    """The RoI pooling view; ``state.pooling`` must hold the detector's pooling of ``roi_box``."""
    if state.pooling is None:
        raise ValueError("RoIViewState.pooling is empty: compute detector.pool_region(roi_box(inference, state)) first")
    p = state.pooling
    gt = as_gt(gt)
    box = roi_box(inference, state)
    step = len(STEP_NAMES) - 1 if state.step is None else min(max(int(state.step), 0), len(STEP_NAMES) - 1)
    size_y, size_x = p.align_heatmap.shape
    stride = 1.0 / p.spatial_scale
    fx1, fy1, fx2, fy2 = p.box_feature.tolist()
    bin_w, bin_h = (fx2 - fx1) / size_x, (fy2 - fy1) / size_y
    name = f"Proposal {0 if state.proposal is None else state.proposal}" if state.box is None else "The box"

    layers: list = []
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    if step >= 3:
        values = p.align_heatmap if state.which == "align" else p.pool_heatmap
        layers.append(HeatmapLayer("pooled", box, values, "inferno", 190))
    if step >= 1:
        cells = feature_cell_segments(p, inference.scale)
        layers.append(SegmentLayer("feature_cells", cells, solid((255, 255, 255), len(cells)), width=1.0, alpha=120))
        if state.which == "pool":
            layers.append(BoxLayer("quantised", quantised_box(p, inference.scale)[None], solid(ARROW, 1),
                                   np.zeros(1, np.int64), labels=("RoIPool reads",), width=2.0, dashed=True))
    if step >= 2:
        bins = bin_segments(p, inference.scale)
        layers.append(SegmentLayer("bins", bins, solid(ARROW, len(bins)), width=2.0))
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    layers.append(BoxLayer("proposal", box[None], solid(SELECT, 1), np.zeros(1, np.int64),
                           labels=(f"{name.lower()} {w:.0f}×{h:.0f}",), width=3.0))

    heat = p.align_heatmap if state.which == "align" else p.pool_heatmap
    rows = [("Box", f"({box[0]:.1f}, {box[1]:.1f}) – ({box[2]:.1f}, {box[3]:.1f}), {w:.0f}×{h:.0f} px"),
            ("Feature map", f"'{p.level_name}' (level {p.level}), {p.feature_size[0]}×{p.feature_size[1]}, "
                            f"stride {fmt_num(stride)}"),
            ("On the feature map", f"({fx1:.2f}, {fy1:.2f}) – ({fx2:.2f}, {fy2:.2f}) cells"),
            ("Bin size", f"{bin_w:.2f}×{bin_h:.2f} cells"),
            ("Output", f"{p.align.shape[0]}×{size_y}×{size_x} (channels × bins)"),
            ("Pooled mean", f"{float(heat.min()):.3f} … {float(heat.max()):.3f}")]
    if step == 0:
        caption = f"{name}: a {w:.0f}×{h:.0f} px region the box head will classify and refine."
    elif step == 1:
        caption = (f"Projected onto feature map '{p.level_name}' (stride {fmt_num(stride)}, "
                   f"{p.feature_size[0]}×{p.feature_size[1]} cells) it covers ({fx1:.1f}, {fy1:.1f}) – "
                   f"({fx2:.1f}, {fy2:.1f}): its borders fall inside cells, not on them.")
    elif step == 2:
        caption = (f"RoIAlign splits it into {size_y}×{size_x} equal bins of {bin_w:.2f}×{bin_h:.2f} cells and "
                   "samples each bin bilinearly, with no rounding." if state.which == "align" else
                   f"RoIPool first rounds the box to whole cells (dashed), then max-pools {size_y}×{size_x} bins.")
    else:
        caption = (f"The pooled {p.align.shape[0]}×{size_y}×{size_x} features (shown: mean over channels) are what "
                   "the box head sees for every proposal, whatever its size.")
    return ViewFrame(layers, caption, rows, step, len(STEP_NAMES), STEP_NAMES[step])


def _prepare(request: ViewRequest) -> Prepare:
    box = roi_box(request.inference, RoIViewState(proposal=request.picked))
    inference, image = request.inference, request.image
    return Prepare(("pool", tuple(np.round(box, 3).tolist())),
                   lambda detector: detector.pool_region(box, inference, image), uses_detector=True,
                   message="Pooling the proposal…")


def _build(request: ViewRequest) -> ViewFrame:
    state = RoIViewState(proposal=request.picked, pooling=request.prepared, which=request.controls["which"],
                         step=request.step)
    return roi_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "roi", "RoI pooling", _build, step_count=lambda _r: len(STEP_NAMES), needs="proposals",
    cannot_show="it is not a two-stage model (it has no RoI pooling stage)",
    controls=(Control("which", "Pooling", "choice", "align", POOLINGS,
                      tooltip="align: RoIAlign, what the box head uses; pool: Fast R-CNN's quantised RoIPool"),),
    click="proposal", prepare=_prepare,
    help="Steps: the proposal, its projection on the feature map, the bins, the pooled output. Click a proposal to "
         "pool it.")
