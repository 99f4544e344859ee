"""RoI pooling view, both ways: Faster R-CNN's RoIAlign (what the box head uses) and Fast R-CNN's RoIPool, for
the same proposal on the same feature map.

Steps: the proposal; its projection on the feature map the box head pools from (RoIPool: rounded to whole
cells, dashed); the bins - RoIAlign's equal, unrounded bins with their bilinear sampling points, or RoIPool's
quantised bins as the blocks of whole cells each one takes the max over (ops.roi.roi_pool_cells, checked
against torchvision's roi_pool); and the two pooled S×S outputs side by side, on one colour scale.

The pooling comes from the detector (``Detector.pool_region(roi_box(inference, state))``, the model's own
MultiScaleRoIAlign and roi_pool on the level it picks) and is passed in the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference
from detviewer.render.model.colors import CELL_LINES, MARK, SELECT
from detviewer.render.model.primitives import (
    ARROW,
    GT_COLOR,
    BoxLayer,
    GtPair,
    HeatmapLayer,
    SegmentLayer,
    TextLayer,
    ViewError,
    ViewFrame,
    as_gt,
    colormap,
    cross_segments,
    fmt_num,
    grid_lines,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import Control, Prepare, ViewRequest, ViewSpec

if TYPE_CHECKING:  # ops.roi imports torch; the window imports the views before any model is loaded
    from detviewer.ops.roi import RoIPooling

__all__ = ["RoIViewState", "roi_box", "roi_frame", "roi_steps", "bin_segments", "feature_cell_segments",
           "quantised_box", "pool_bin_rects", "output_panels", "STEP_NAMES", "POOLINGS"]

STEP_NAMES = ("Proposal", "Feature map", "Bins", "Pooled")
POOLINGS = ("align", "pool")
_NAMES = {"align": "RoIAlign", "pool": "RoIPool"}
_BIN_COLORS = ((255, 140, 0), (150, 90, 255))  # neighbouring RoIPool bins alternate, so shared cells show


@dataclass(frozen=True)
class RoIViewState:
    """proposal: index into inference.proposals (default the best); box: any (4,) xyxy original
    pixels instead; pooling: what the detector computed for ``roi_box(inference, state)``;
    which: show RoIAlign ("align", what the box head uses) or Fast R-CNN's quantised RoIPool ("pool");
    step: lecture step (0 proposal … 3 pooled outputs), None shows everything."""

    proposal: int | None = None
    box: tuple[float, float, float, float] | None = None
    pooling: RoIPooling | None = None
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
        raise ViewError(f"proposal {i + 1} does not exist ({len(props)} proposals).")
    return props.xyxy[i].copy()


def roi_steps(inference: Inference, gt: GtPair | None = None) -> int:
    """Lecture steps: proposal, projection on the feature map, bins, pooled outputs."""
    return len(STEP_NAMES)


def _to_original(xs_input: np.ndarray, ys_input: np.ndarray,
                 scale: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    return xs_input / scale[1], ys_input / scale[0]


def bin_segments(pooling: RoIPooling, scale: tuple[float, float]) -> np.ndarray:
    """Borders of RoIAlign's S×S equal bins in original pixels: (2(S + 1), 4) segments."""
    bins = pooling.bins_input
    xs = np.concatenate([bins[0, :, 0], bins[0, -1:, 2]])
    ys = np.concatenate([bins[:, 0, 1], bins[-1:, 0, 3]])
    xs, ys = _to_original(xs, ys, scale)
    return grid_lines(xs, ys, (xs[0], xs[-1]), (ys[0], ys[-1]))


def feature_cell_segments(pooling: RoIPooling, scale: tuple[float, float]) -> np.ndarray:
    """Borders of the feature-map cells the box touches, in original pixels (segments (N, 4))."""
    x1, y1, x2, y2 = pooling.box_feature.tolist()
    xs = np.arange(math.floor(x1), math.ceil(x2) + 1, dtype=np.float32)
    ys = np.arange(math.floor(y1), math.ceil(y2) + 1, dtype=np.float32)
    xs, ys = _to_original(xs / pooling.spatial_scale, ys / pooling.spatial_scale, scale)
    return grid_lines(xs, ys, (xs[0], xs[-1]), (ys[0], ys[-1]))


def quantised_box(pooling: RoIPooling, scale: tuple[float, float]) -> np.ndarray:
    """(4,) xyxy original pixels of the region torchvision's roi_pool really reads: the union of its bins'
    cells, the box rounded to whole cells ``[round(x1), round(x2) + 1)`` (clamped to the map)."""
    cells = pooling.pool_cells
    x0, y0 = cells[..., 0].min(), cells[..., 1].min()
    x1, y1 = cells[..., 2].max(), cells[..., 3].max()
    xs, ys = _to_original(np.array([x0, x1], np.float32) / pooling.spatial_scale,
                          np.array([y0, y1], np.float32) / pooling.spatial_scale, scale)
    return np.array([xs[0], ys[0], xs[1], ys[1]], np.float32)


def pool_bin_rects(pooling: RoIPooling, scale: tuple[float, float]) -> np.ndarray:
    """(S·S, 4) float32 xyxy original pixels: the block of whole cells each RoIPool bin reads, row-major."""
    cells = pooling.pool_cells.reshape(-1, 4).astype(np.float32) / pooling.spatial_scale
    xs, ys = _to_original(cells[:, [0, 2]], cells[:, [1, 3]], scale)
    return np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], 1).astype(np.float32)


def _sample_points(pooling: RoIPooling, scale: tuple[float, float]) -> np.ndarray:
    points = pooling.align_points.reshape(-1, 2) / pooling.spatial_scale
    xs, ys = _to_original(points[:, 0], points[:, 1], scale)
    return np.stack([xs, ys], 1)


def output_panels(image_size: tuple[int, int], box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the two pooled outputs go: (2, 4) squares side by side in the half of the frame (top or bottom)
    away from the box, and the (4,) backdrop behind them, xyxy original pixels."""
    height, width = image_size
    side = min(0.4 * width, 0.36 * height)
    gap, pad = 0.06 * width, 0.02 * max(height, width)
    title = 0.09 * height  # room for the titles above the squares
    left = (width - 2 * side - gap) / 2
    top = pad + title if (box[1] + box[3]) / 2 > height / 2 else height - pad - side
    squares = np.array([[left, top, left + side, top + side],
                        [left + side + gap, top, left + 2 * side + gap, top + side]], np.float32)
    backdrop = np.array([left - pad, top - title, left + 2 * side + gap + pad, top + side + pad], np.float32)
    return squares, backdrop


def _pooled_layers(p: RoIPooling, inference: Inference, box: np.ndarray) -> list:
    squares, backdrop = output_panels(inference.image_size, box)
    size_y, size_x = p.align_heatmap.shape
    titles = (f"RoIAlign {size_y}×{size_x}", f"RoIPool {size_y}×{size_x}")
    # each on its own scale: RoIPool's maxima run higher than RoIAlign's averages, and the pattern is the point
    return [
        BoxLayer("pooled_backdrop", backdrop[None], solid((20, 20, 20), 1), np.zeros(1, np.int64), width=0.0,
                 fill_alpha=215),
        HeatmapLayer("pooled_align", squares[0], p.align_heatmap, "inferno", 255),
        HeatmapLayer("pooled_pool", squares[1], p.pool_heatmap, "inferno", 255),
        BoxLayer("pooled_frames", squares, np.stack([SELECT, ARROW]).astype(np.uint8), np.arange(2, dtype=np.int64),
                 width=2.0),
        TextLayer("pooled_titles", [[(s[0] + s[2]) / 2, (s[1] + backdrop[1]) / 2] for s in squares], titles,
                  solid((255, 255, 255), 2), size=14.0, anchor="center"),
    ]


def _bins_layers(p: RoIPooling, inference: Inference, which: str) -> list:
    if which == "align":
        bins = bin_segments(p, inference.scale)
        points = _sample_points(p, inference.scale)
        return [SegmentLayer("bins", bins, solid(ARROW, len(bins)), width=2.0),
                SegmentLayer("sample_points", cross_segments(points, 1.5), solid(MARK, 2 * len(points)), width=1.5)]
    # Bins overlap by design (floor / ceil), so outlining all S×S would only redraw the cell borders: the first
    # row is shaded instead, neighbours in alternating colours, where two bins share a column the colours mix.
    size_x = p.pool_cells.shape[1]
    rects = pool_bin_rects(p, inference.scale)[:size_x]
    colors = np.array(_BIN_COLORS, np.uint8)[np.arange(size_x) % 2]
    return [BoxLayer("pool_bins", rects, colors, np.arange(size_x, dtype=np.int64), width=2.5, fill_alpha=110)]


def _either(counts: list[int]) -> str:
    """[2, 3] -> "2 or 3" (never "2/3", which reads as two thirds)."""
    if len(counts) == 1:
        return str(counts[0])
    return ", ".join(map(str, counts[:-1])) + f" or {counts[-1]}"


def _rows(p: RoIPooling, box: np.ndarray, which: str, step: int) -> list[tuple[str, str]]:
    size_y, size_x = p.align_heatmap.shape
    fx1, fy1, fx2, fy2 = p.box_feature.tolist()
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    rows = [("Box", f"({box[0]:.1f}, {box[1]:.1f}) – ({box[2]:.1f}, {box[3]:.1f}), {w:.0f}×{h:.0f} px"),
            ("Feature map", f"'{p.level_name}' (level {p.level + 1}), {p.feature_size[0]}×{p.feature_size[1]}, "
                            f"stride {fmt_num(1.0 / p.spatial_scale)}"),
            ("On the feature map", f"({fx1:.2f}, {fy1:.2f}) – ({fx2:.2f}, {fy2:.2f}) cells")]
    cells = p.pool_cells
    widths = sorted({int(v) for v in (cells[0, :, 2] - cells[0, :, 0])})
    heights = sorted({int(v) for v in (cells[:, 0, 3] - cells[:, 0, 1])})
    if which == "align" or step >= 3:  # a Fast R-CNN (RoIPool) slide does not quote Mask R-CNN's RoIAlign
        rows.append(("RoIAlign bins", f"{(fx2 - fx1) / size_x:.2f}×{(fy2 - fy1) / size_y:.2f} cells, "
                                      f"{p.align_points.shape[2]} bilinear samples each, averaged"))
    rows += [("RoIPool region", f"columns {cells[..., 0].min()}–{cells[..., 2].max() - 1}, rows "
                                f"{cells[..., 1].min()}–{cells[..., 3].max() - 1} (rounded)"),
             ("RoIPool bins", f"{_either(widths)} whole cells wide × {_either(heights)} high, max")]
    if step >= 3:
        diff = float(np.abs(p.align - p.pool).mean()) if p.pool is not None else float("nan")
        def span(values: np.ndarray) -> str:
            return f"{float(values.min()):.3f} … {float(values.max()):.3f}".replace("-", "−")

        rows += [("Output", f"{p.align.shape[0]}×{size_y}×{size_x} (channels × bins), shown: channel mean"),
                 ("RoIAlign (channel mean)", span(p.align_heatmap)), ("RoIPool (channel mean)", span(p.pool_heatmap)),
                 ("Mean |RoIAlign − RoIPool|", f"{diff:.3f}")]
    return rows


def _caption(p: RoIPooling, name: str, box: np.ndarray, which: str, step: int) -> str:
    size_y, size_x = p.align_heatmap.shape
    fx1, fy1, fx2, fy2 = p.box_feature.tolist()
    stride = fmt_num(1.0 / p.spatial_scale)
    if step == 0:
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        return f"{name}: a {w:.0f}×{h:.0f} px region the box head will classify and refine."
    if step == 1:
        rounded = " RoIPool first rounds it to whole cells (dashed)." if which == "pool" else ""
        return (f"Projected onto feature map '{p.level_name}' (stride {stride}, {p.feature_size[0]}×"
                f"{p.feature_size[1]} cells) it covers ({fx1:.1f}, {fy1:.1f}) – ({fx2:.1f}, {fy2:.1f}): its borders "
                f"fall inside cells, not on them.{rounded}")
    if step == 2 and which == "align":
        return (f"RoIAlign splits the box into {size_y}×{size_x} equal bins of {(fx2 - fx1) / size_x:.2f}×"
                f"{(fy2 - fy1) / size_y:.2f} cells, with no rounding, and averages {p.align_points.shape[2]} "
                "bilinear samples (crosses) in each.")
    if step == 2:
        return (f"Fast R-CNN's RoIPool rounds the box to whole cells, then gives each of its {size_y}×{size_x} bins "
                "the whole cells from floor to ceil of its share and takes the max over them; the first row of bins "
                "is shaded, neighbours in turn (where they share cells the colours mix).")
    return (f"The pooled {p.align.shape[0]}×{size_y}×{size_x} features of the same proposal (channel mean, each on "
            "its own colour scale): RoIAlign, what this model's box head sees, averages bilinear samples; RoIPool, "
            "Fast R-CNN's, takes the max over whole cells, so its values run higher and its bins are shifted by the "
            "rounding.")


def roi_frame(inference: Inference, state: RoIViewState, gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """The RoI pooling view; ``state.pooling`` must hold the detector's pooling of ``roi_box``."""
    if state.pooling is None:
        raise ValueError("RoIViewState.pooling is empty: compute detector.pool_region(roi_box(inference, state)) first")
    p = state.pooling
    gt = as_gt(gt)
    box = roi_box(inference, state)
    step = len(STEP_NAMES) - 1 if state.step is None else min(max(int(state.step), 0), len(STEP_NAMES) - 1)
    name = f"Proposal {1 if state.proposal is None else state.proposal + 1}" if state.box is None else "The box"
    legend: tuple = ((name.lower(), SELECT),)

    layers: list = []
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
        legend += (("ground truth", GT_COLOR),)
    if 1 <= step <= 2:
        cells = feature_cell_segments(p, inference.scale)
        layers.append(SegmentLayer("feature_cells", cells, solid(CELL_LINES, len(cells)), width=1.0, alpha=120))
        legend += (("feature-map cells", CELL_LINES),)
        if state.which == "pool":
            layers.append(BoxLayer("quantised", quantised_box(p, inference.scale)[None], solid(ARROW, 1),
                                   np.zeros(1, np.int64), width=2.0, dashed=True))
            legend += (("rounded to whole cells", ARROW),)
    if step == 2:
        layers += _bins_layers(p, inference, state.which)
        legend += ((("bins", ARROW), ("sample points", MARK)) if state.which == "align" else
                   (("bins 1, 3, 5… of the first row", _BIN_COLORS[0]), ("bins 2, 4, 6…", _BIN_COLORS[1])))
    if step == 3 and state.which == "align":  # the S×S bins over the box, one per output cell
        bins = bin_segments(p, inference.scale)
        layers.append(SegmentLayer("bins", bins, solid(ARROW, len(bins)), width=1.5, alpha=200))
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    layers.append(BoxLayer("proposal", box[None], solid(SELECT, 1), np.zeros(1, np.int64),
                           labels=(f"{name.lower()} {w:.0f}×{h:.0f}",), width=3.0))
    if step == 3:
        layers += _pooled_layers(p, inference, box)
        lo, hi = colormap([0.0], "inferno")[0], colormap([1.0], "inferno")[0]
        legend += (("low activation", tuple(int(v) for v in lo)), ("high activation", tuple(int(v) for v in hi)))
    step_label = STEP_NAMES[step] if step in (0, 3) else f"{STEP_NAMES[step]} ({_NAMES[state.which]})"
    return ViewFrame(layers, _caption(p, name, box, state.which, step), _rows(p, box, state.which, step), step,
                     len(STEP_NAMES), step_label, legend=legend)


def _prepare(request: ViewRequest) -> Prepare:
    box = roi_box(request.inference, RoIViewState(proposal=request.picked))
    inference, image = request.inference, request.image
    return Prepare(("pool", tuple(np.round(box, 3).tolist())),
                   lambda detector: detector.pool_region(box, inference, image), uses_detector=True,
                   message="Pooling the proposal…")


def _build(request: ViewRequest) -> ViewFrame:
    state = RoIViewState(proposal=request.picked, pooling=request.prepared, which=request.controls["roi"],
                         step=request.step)
    return roi_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "roi", "RoI pooling", _build, step_count=lambda _r: len(STEP_NAMES), needs="proposals",
    cannot_show="it is not a two-stage model (it has no RoI pooling stage)",
    controls=(Control("roi", "Pooling", "choice", "align", POOLINGS,
                      tooltip="align: RoIAlign, what the box head uses; pool: Fast R-CNN's quantised RoIPool"),),
    click="proposal", prepare=_prepare,
    help="Steps: the proposal, its projection on the feature map, the bins (RoIAlign's samples or RoIPool's "
         "cells), both pooled outputs side by side. Click a proposal to pool it.")
