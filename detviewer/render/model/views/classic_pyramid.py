"""The image pyramid of a classic sliding-window detector: one step per scale.

A Viola–Jones cascade or a HOG + SVM classifier only knows one window size (24×24, 64×128); to find larger
objects OpenCV shrinks the image by the scale factor again and again and slides the same window over each
shrunk copy. Each step draws the shrunk image the detector scans at its true pixel size over the dimmed photo,
the window at its corner, and what that window covers in the photo.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.types import Inference
from detviewer.render.model.colors import HIGHLIGHT
from detviewer.render.model.primitives import BoxLayer, ImageLayer, ViewFrame, fmt_int, fmt_num, solid
from detviewer.render.model.spec import ViewRequest, ViewSpec
from detviewer.render.model.views.classic_common import (
    CANNOT_SHOW,
    classifier_name,
    nearest_resize,
    photo_factor,
    plural,
    trace_of,
    window_in_photo,
)

__all__ = ["SPEC", "pyramid_frame", "pyramid_steps"]

OUTLINE = (150, 150, 150)
SCANNED = (86, 180, 233)
IN_PHOTO = HIGHLIGHT


def pyramid_steps(inference: Inference) -> int:
    """One step per scale."""
    return max(1, len(trace_of(inference).levels))


def pyramid_frame(inference: Inference, step: int | None = None, image: np.ndarray | None = None) -> ViewFrame:
    """Scale ``step`` (0-based) of the pyramid; image: the photo's pixels (H, W, 3) for the shrunk copy, or None."""
    trace = trace_of(inference)
    if not trace.levels:
        return ViewFrame([], "The photo is smaller than the detector's window: there is no scale to scan.", [], 0, 1,
                         "No scale")
    n = len(trace.levels)
    k = 0 if step is None else int(np.clip(step, 0, n - 1))
    level = trace.levels[k]
    h, w = level.image_size
    bh, bw = trace.base_window
    extents = np.array([[0, 0, lv.image_size[1], lv.image_size[0]] for lv in trace.levels], np.float32)
    layers: list = [BoxLayer("pyramid_outlines", extents, solid(OUTLINE, n), np.arange(n, dtype=np.int64),
                             width=1.0, alpha=140)]
    if image is not None:
        picture = nearest_resize(image, (h, w))
        layers.append(ImageLayer("scaled_image", picture[None], np.array([[0, 0, w, h]], np.float32),
                                 solid(SCANNED, 1), width=2.5))
    else:
        layers.append(BoxLayer("scaled_image_outline", extents[[k]], solid(SCANNED, 1), np.array([k]), width=2.5))
    layers.append(BoxLayer("window_scanned", np.array([[0, 0, bw, bh]], np.float32), solid(IN_PHOTO, 1),
                           np.zeros(1, np.int64), labels=(f"{bw}×{bh}",), width=3.0))
    ww, wh = window_in_photo(inference, level)
    where = _photo_window_at(inference, k, (ww, wh))
    # at the last scales the window, larger than the shrunk image, covers nearly the whole photo: its label would
    # sit on the tiny shrunk image the step is about (the caption still gives its size)
    covers_scanned = ww > w and where[0] < w and where[1] < h
    layers.append(BoxLayer("window_in_photo", where[None], solid(IN_PHOTO, 1), np.zeros(1, np.int64),
                           labels=("" if covers_scanned else f"{ww}×{wh} in the photo",), width=3.0, dashed=True))
    factor = photo_factor(inference, level)
    rows_, cols = level.grid
    shrunk = f"the photo itself, {w}×{h} px" if factor == 1 else f"the photo shrunk {fmt_num(factor)}× to {w}×{h} px"
    caption = (f"Scale {k + 1} of {n}: {shrunk} (blue, drawn at its own pixel size). {classifier_name(trace, first=True)}'s {bw}×{bh} window (yellow) then covers "
               f"{ww}×{wh} px of the photo (dashed): {cols} × {rows_} = {plural(level.positions, 'position')}"
               + (f", {level.step} px apart." if level.positions > 1 else "."))
    table = [("Scale", f"{k + 1} of {n}, ×{fmt_num(factor)} (factor {fmt_num(trace.scale_factor)} per scale)"),
             ("Scanned image", f"{w}×{h} px"), ("Window", f"{bw}×{bh} px there = {ww}×{wh} px in the photo"),
             ("Positions", f"{cols} × {rows_} = {fmt_int(level.positions)}, step {level.step} px"),
             ("All scales", f"{fmt_int(trace.positions)} positions")]
    legend = (("the shrunk image scanned at this scale", SCANNED), ("the window, and what it covers in the photo",
                                                                    IN_PHOTO), ("the other scales", OUTLINE))
    return ViewFrame(layers, caption, table, k, n, f"×{fmt_num(factor)}: {w}×{h}", legend=legend, dim=0.55)


def _photo_window_at(inference: Inference, k: int, size: tuple[int, int]) -> np.ndarray:
    """Where the window of scale k is drawn in the photo: on its best raw window, else at the photo's bottom right."""
    trace = trace_of(inference)
    at = np.flatnonzero(trace.raw_level == k)
    if len(at):
        return trace.raw_xyxy[at[np.argmax(trace.raw_scores[at])]].astype(np.float32)
    height, width = inference.image_size
    ww, wh = size
    return np.array([width - ww, height - wh, width, height], np.float32)


def _build(request: ViewRequest) -> ViewFrame:
    return pyramid_frame(request.inference, request.step, request.image)


def _steps(request: ViewRequest) -> int:
    return pyramid_steps(request.inference) if getattr(request.inference, "classic", None) is not None else 1


SPEC = ViewSpec(
    "classic-pyramid", "Image pyramid", _build, step_count=_steps, needs="classic", cannot_show=CANNOT_SHOW,
    help="Steps: one scale of the pyramid at a time (the shrunk image, the window, what it covers in the photo).")
