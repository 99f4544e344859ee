"""Before CNN proposals: sliding windows (why exhaustive search is expensive), Selective Search's
proposals (run off the GUI thread by the caller, passed in with its time), and R-CNN's
crop-and-warp gallery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.primitives import (
    GT_COLOR,
    BoxLayer,
    GtPair,
    ImageLayer,
    TextLayer,
    ViewError,
    ViewFrame,
    as_gt,
    colormap,
    fmt_int,
    fmt_num,
    gt_layer,
    solid,
)
from detviewer.render.model.spec import Control, Prepare, ViewRequest, ViewSpec, counted

__all__ = ["SlidingWindowViewState", "SelectiveSearchViewState", "window_shapes", "sliding_window_frame",
           "sliding_window_steps", "selective_search_frame", "selective_search_steps", "warp_gallery",
           "gallery_rects"]


@dataclass(frozen=True)
class SlidingWindowViewState:
    """Window sides (px), aspect ratios (h / w) and stride as a fraction of the window's shorter side
    (core.before_cnn.sliding_windows); max_drawn: how many windows to draw in all (the counts are
    always complete); shape: index of one window shape, None for all; step: lecture step (one per
    shape, then all), overrides ``shape``."""

    sizes: tuple[int, ...] = (64, 128, 256)
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    stride_fraction: float = 0.25
    max_drawn: int = 400
    shape: int | None = None
    step: int | None = None


@dataclass(frozen=True, eq=False)
class SelectiveSearchViewState:
    """boxes (N, 4) float32 xyxy original pixels and seconds: core.before_cnn.selective_search's
    result, computed off the GUI thread; top_n: how many to draw; gallery: how many of the first
    boxes are numbered to match the crop-and-warp gallery; crops: ``warp_gallery`` of those boxes
    (gallery, warp_size, warp_size, 3) uint8, computed by the caller too (None: no second step);
    step: 0 the proposals, 1 R-CNN's crop-and-warp (needs crops)."""

    boxes: np.ndarray
    seconds: float
    mode: str = "fast"
    top_n: int = 200
    gallery: int = 8
    step: int | None = None
    crops: np.ndarray | None = None
    warp_size: int = 227
    context: int = 16


def window_shapes(inference: Inference, state: SlidingWindowViewState):
    """core.before_cnn.sliding_windows for this image: one WindowScale per window shape that fits."""
    from detviewer.ops.before_cnn import sliding_windows

    return sliding_windows(inference.image_size, state.sizes, state.aspect_ratios, state.stride_fraction)


def sliding_window_steps(inference: Inference, gt: GtPair | None = None,
                         state: SlidingWindowViewState = SlidingWindowViewState()) -> int:
    """Lecture steps: one per window shape, then all shapes together."""
    n = len(window_shapes(inference, state))
    return n + 1 if n > 1 else max(n, 1)


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (all of them when k >= n)."""
    if k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max(k, 1)).round().astype(np.int64))


def sliding_window_frame(inference: Inference, state: SlidingWindowViewState = SlidingWindowViewState(),
                         gt=None) -> ViewFrame:
    """Sliding windows over the image: a drawn subset of each shape, the full count per shape and in all."""
    gt = as_gt(gt)
    shapes = window_shapes(inference, state)
    steps = len(shapes) + 1 if len(shapes) > 1 else max(len(shapes), 1)
    if state.step is not None:
        step = min(max(int(state.step), 0), steps - 1)
        chosen = list(range(len(shapes))) if step >= len(shapes) else [step]
    elif state.shape is not None and 0 <= state.shape < len(shapes):
        step, chosen = int(state.shape), [int(state.shape)]
    else:
        step, chosen = steps - 1, list(range(len(shapes)))
    total = sum(len(s.boxes) for s in shapes)
    per_shape = max(1, state.max_drawn // max(len(chosen), 1))

    layers: list = []
    examples, example_colors, example_texts = [], [], []
    for i in chosen:
        ws = shapes[i]
        pick = _spread(len(ws.boxes), per_shape)
        color = PALETTE[i % len(PALETTE)]
        layers.append(BoxLayer(f"windows_{ws.width}x{ws.height}", ws.boxes[pick], solid(color, len(pick)),
                               pick.astype(np.int64), width=1.0, alpha=110 if len(chosen) > 1 else 170))
        examples.append(ws.boxes[len(ws.boxes) // 2])
        example_colors.append(color)
        example_texts.append(f"{ws.width}×{ws.height}, stride {ws.stride}")
    if examples:
        layers.append(BoxLayer("example_windows", np.stack(examples), np.stack(example_colors),
                               np.array(chosen, np.int64), labels=tuple(example_texts), width=3.0))
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))

    rows = [(f"{s.width}×{s.height}, stride {s.stride}", fmt_int(len(s.boxes))) for s in shapes]
    rows.append(("Total", f"{fmt_int(total)} windows"))
    drawn = sum(len(layer) for layer in layers if layer.name.startswith("windows_"))
    height, width = inference.image_size
    if len(chosen) == 1 and shapes:
        ws = shapes[chosen[0]]
        nx = (width - ws.width) // ws.stride + 1
        ny = (height - ws.height) // ws.stride + 1
        caption = (f"A {ws.width}×{ws.height} window moved {ws.stride} px at a time: {nx} × {ny} = "
                   f"{fmt_int(len(ws.boxes))} positions, each a separate classifier run (drawn: {fmt_int(drawn)}).")
        label = f"{ws.width}×{ws.height}"
    else:
        caption = (f"Sliding windows: {len(shapes)} window shapes at every position (stride "
                   f"{fmt_num(state.stride_fraction)} of the window side) give {fmt_int(total)} windows on this "
                   f"{width}×{height} image, each a separate classifier run; {fmt_int(drawn)} are drawn.")
        label = "All windows"
    legend = tuple((f"{shapes[i].width}×{shapes[i].height} windows", tuple(int(v) for v in PALETTE[i % len(PALETTE)]))
                   for i in chosen)
    if gt is not None:
        legend += (("ground truth", GT_COLOR),)
    return ViewFrame(layers, caption, rows, step, steps, label, legend=legend)


def selective_search_steps(inference: Inference, gt: GtPair | None = None,
                           state: SelectiveSearchViewState | None = None) -> int:
    return 2 if state is not None and state.crops is not None and len(state.crops) else 1


def selective_search_frame(inference: Inference, state: SelectiveSearchViewState,
                           gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """Step 0: Selective Search's proposals (first ``top_n``, coloured by rank) with the gallery's boxes
    numbered. Step 1 (with crops): those boxes and their warped crops laid over the frame, numbered alike."""
    gt = as_gt(gt)
    boxes = np.asarray(state.boxes, np.float32).reshape(-1, 4)
    steps = selective_search_steps(inference, gt, state)
    step = 0 if state.step is None else int(np.clip(state.step, 0, steps - 1))
    n_gallery = min(state.gallery, len(boxes))
    if step == 1:
        return _crop_and_warp_frame(inference, state, boxes[:len(state.crops)], gt)
    shown = boxes[: state.top_n]
    rank = np.arange(len(shown))[::-1]  # the first proposals are drawn last, on top, in the brightest colour
    brightness = 1.0 - rank / max(len(shown) - 1, 1)
    layers: list = [BoxLayer("selective_search", shown[rank], colormap(brightness, "viridis"), rank.astype(np.int64),
                             width=1.0, alpha=170)]
    layers.append(_gallery_boxes(boxes[:n_gallery]))
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    rows = [("Mode", state.mode), ("Proposals", fmt_int(len(boxes))), ("Time", f"{state.seconds:.2f} s"),
            ("Drawn", f"first {fmt_int(len(shown))}"), ("Gallery", f"boxes 1–{n_gallery} warped")]
    caption = (f"Selective Search ({state.mode} mode) grouped similar regions into {fmt_int(len(boxes))} candidate "
               f"boxes in {state.seconds:.2f} s; R-CNN warps every one to a fixed size and runs the CNN on each. "
               f"Drawn: the first {fmt_int(len(shown))}.")
    legend = ((f"proposals 1–{n_gallery}, numbered, one colour each", tuple(int(v) for v in PALETTE[0])),)[:n_gallery]
    legend += (("earlier proposals (thin)", tuple(int(v) for v in colormap([1.0])[0])),
               ("later proposals (thin)", tuple(int(v) for v in colormap([0.0])[0])))
    if gt is not None:
        legend += (("ground truth", GT_COLOR),)
    return ViewFrame(layers, caption, rows, step, steps, "Selective Search", legend=legend)


def _gallery_boxes(boxes: np.ndarray) -> BoxLayer:
    n = len(boxes)
    return BoxLayer("gallery_boxes", boxes, PALETTE[np.arange(n) % len(PALETTE)], np.arange(n, dtype=np.int64),
                    labels=tuple(str(i + 1) for i in range(n)), width=2.5)


def gallery_rects(image_size: tuple[int, int], n: int, columns: int = 4, top: bool = False, edge: str = "",
                  max_side: float | None = None) -> np.ndarray:
    """Where the n warped crops go over an (H, W) frame: (n, 4) xyxy squares, ``columns`` of them side by side
    along the bottom (or the top; ``edge`` "left" / "right": stacked along that side), together at most 90% of
    that side and half the frame across it; no square's side over ``max_side``."""
    height, width = image_size
    edge = edge or ("top" if top else "bottom")
    across = max(1, min(columns, n))
    lines = -(-n // across)
    gap = 0.01 * max(height, width)
    along, deep = (width, height) if edge in ("top", "bottom") else (height, width)
    side = min((0.9 * along - (across - 1) * gap) / across, (0.5 * deep - (lines - 1) * gap) / lines)
    if max_side is not None:
        side = max(min(side, max_side), 1.0)
    start = (along - (across * side + (across - 1) * gap)) / 2
    first = gap if edge in ("top", "left") else deep - gap - lines * side - (lines - 1) * gap
    i = np.arange(n)
    a, d = start + (i % across) * (side + gap), first + (i // across) * (side + gap)
    x, y = (a, d) if edge in ("top", "bottom") else (d, a)
    return np.stack([x, y, x + side, y + side], axis=1).astype(np.float32)


def _free_depth(boxes: np.ndarray, image_size: tuple[int, int], edge: str) -> float:
    """How far from ``edge`` the frame is free of ``boxes`` (N, 4) xyxy."""
    height, width = image_size
    if not len(boxes):
        return float(height if edge in ("top", "bottom") else width)
    return float({"top": boxes[:, 1].min(), "bottom": height - boxes[:, 3].max(), "left": boxes[:, 0].min(),
                  "right": width - boxes[:, 2].max()}[edge])


def gallery_placement(image_size: tuple[int, int], boxes: np.ndarray, pad: float) -> np.ndarray:
    """(n, 4) squares for the crops of ``boxes`` (n, 4) xyxy that hide none of those boxes: along the frame side
    with the most room free of them, in rows of 4 or one row of 8 (stacked likewise along a left / right side),
    the largest squares that fit (at most gallery_rects' own). When every free band is too thin (squares under
    a third of that size), the bottom or top half hiding the least of their area."""
    n = len(boxes)
    full = gallery_rects(image_size, n)
    default = float(full[0, 2] - full[0, 0]) if n else 0.0
    gap = 0.01 * max(image_size)
    best, best_side = None, 0.0
    for edge in ("bottom", "top", "left", "right"):
        depth = _free_depth(boxes, image_size, edge) - 2 * gap - pad  # a gap clear of the nearest box
        for columns in (4, 8):
            lines = -(-n // max(1, min(columns, n)))
            fits = (depth - (lines - 1) * gap) / lines
            if fits <= 0:
                continue
            rects = gallery_rects(image_size, n, columns, edge=edge, max_side=min(fits, default))
            side = float(rects[0, 2] - rects[0, 0])
            if side > best_side + 1e-3:
                best, best_side = rects, side
    if best is not None and best_side >= default / 3:
        return best
    choices = []
    for top in (False, True):
        rects = gallery_rects(image_size, n, top=top)
        backdrop = np.array([rects[:, 0].min() - pad, rects[:, 1].min() - pad,
                             rects[:, 2].max() + pad, rects[:, 3].max() + pad], np.float32)
        choices.append((_covered_area(boxes, backdrop), top, rects))
    return min(choices, key=lambda c: c[0])[2]


def _covered_area(boxes: np.ndarray, region: np.ndarray) -> float:
    """Total area of ``boxes`` (N, 4) inside ``region`` (4,), xyxy."""
    iw = np.clip(np.minimum(boxes[:, 2], region[2]) - np.maximum(boxes[:, 0], region[0]), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], region[3]) - np.maximum(boxes[:, 1], region[1]), 0, None)
    return float((iw * ih).sum())


def _crop_and_warp_frame(inference: Inference, state: SelectiveSearchViewState, boxes: np.ndarray,
                         gt: GtPair | None) -> ViewFrame:
    n = len(boxes)
    pad = 0.01 * max(inference.image_size)
    rects = gallery_placement(inference.image_size, boxes, pad)
    backdrop = np.array([rects[:, 0].min() - pad, rects[:, 1].min() - pad,
                         rects[:, 2].max() + pad, rects[:, 3].max() + pad], np.float32)
    colors = PALETTE[np.arange(n) % len(PALETTE)]
    # a box whose number would sit on the gallery keeps its outline (under the gallery) but not its number
    hidden = ((boxes[:, 0] >= backdrop[0]) & (boxes[:, 0] <= backdrop[2])
              & (boxes[:, 1] >= backdrop[1]) & (boxes[:, 1] <= backdrop[3]))
    labels = tuple("" if h else str(i + 1) for i, h in enumerate(hidden.tolist()))
    layers: list = [BoxLayer("gallery_boxes", boxes, colors, np.arange(n, dtype=np.int64), labels=labels, width=2.5)]
    if gt is not None:
        layers.append(gt_layer(gt, inference.detections.class_names))
    layers += [
        BoxLayer("gallery_backdrop", backdrop[None], solid((20, 20, 20), 1), np.zeros(1, np.int64), width=0.0,
                 fill_alpha=200),
        ImageLayer("warped_crops", state.crops, rects, colors, width=2.5),
        TextLayer("crop_numbers", rects[:, :2] + 2, tuple(str(i + 1) for i in range(n)), colors, size=13.0),
    ]
    sides = boxes[:, 2:] - boxes[:, :2]
    aspect = sides[:, 0] / np.maximum(sides[:, 1], 1e-6)
    s = state.warp_size
    rows = [(str(i + 1), f"{w:.0f}×{h:.0f} px (w/h {a:.2f}) → {s}×{s}")
            for i, ((w, h), a) in enumerate(zip(sides.tolist(), aspect.tolist()))]
    caption = (f"R-CNN's crop-and-warp: each proposal, with {state.context} px of context around it, is stretched "
               f"to {s}×{s} whatever its shape (width/height from {aspect.min():.2f} to {aspect.max():.2f} here), "
               f"and the CNN runs once per proposal — about {fmt_int(len(state.boxes))} times for this image.")
    legend = (("proposal n and its warped crop n (one colour)", tuple(int(v) for v in colors[0])),)
    if gt is not None:
        legend += (("ground truth", GT_COLOR),)
    return ViewFrame(layers, caption, rows, 1, 2, "Crop and warp", legend=legend)


def warp_gallery(image_rgb: np.ndarray, boxes_xyxy: ArrayLike, n: int = 8, size: int = 227,
                 context: int = 16) -> np.ndarray:
    """R-CNN's crop-and-warp of the first ``n`` boxes: (n, size, size, 3) uint8 (core.before_cnn.crop_and_warp)."""
    from detviewer.ops.before_cnn import crop_and_warp

    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)[: max(int(n), 0)]
    return crop_and_warp(image_rgb, boxes, size=size, context=context)


def _sliding_build(request: ViewRequest) -> ViewFrame:
    return sliding_window_frame(request.inference, SlidingWindowViewState(step=request.step), gt=request.gt_pair)


def run_selective_search(image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(boxes, seconds, the warped crops of the gallery's boxes) for the Selective Search view."""
    from detviewer.ops.before_cnn import selective_search

    boxes, seconds = selective_search(image)
    defaults = SelectiveSearchViewState(boxes, seconds)
    crops = warp_gallery(image, boxes, n=defaults.gallery, size=defaults.warp_size, context=defaults.context)
    return boxes, seconds, crops


def _search_prepare(request: ViewRequest) -> Prepare | None:
    image = request.image
    if image is None:
        return None
    return Prepare(("selective_search",), lambda _detector: run_selective_search(image),
                   message="Running Selective Search…")


def _search_build(request: ViewRequest) -> ViewFrame:
    if request.prepared is None:
        raise ViewError("Selective Search needs the frame's pixels; open an image.")
    boxes, seconds, crops = request.prepared
    state = SelectiveSearchViewState(boxes, seconds, top_n=request.controls["top_k"], step=request.step, crops=crops)
    return selective_search_frame(request.inference, state, gt=request.gt_pair)


SLIDING_WINDOW = ViewSpec(
    "sliding-window", "Sliding windows", _sliding_build, step_count=counted(sliding_window_steps),
    help="Steps: one window shape at a time, then all shapes.")

SELECTIVE_SEARCH = ViewSpec(
    "selective-search", "Selective Search", _search_build, step_count=lambda _r: 2,
    controls=(Control("top_k", "Top K", "int", 200, minimum=1, maximum=2000, tooltip="How many proposals to draw"),),
    prepare=_search_prepare, help="Steps: Selective Search's proposals, then R-CNN's crop-and-warp of the first ones.")
