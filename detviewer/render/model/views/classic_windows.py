"""Every window at every scale with its score: what a classic detector's classifier said before any grouping.

Steps: one per scale, then all scales together. The Haar cascade's raw windows are those that passed every stage
(OpenCV's ``detectMultiScale3(minNeighbors=0, outputRejectLevels=True)``), coloured by the last stage's sum; for
HOG + SVM every position gets its SVM margin, drawn as a heat map at the window centres, and the windows above
the hit threshold are drawn as boxes.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.classic import ClassicTrace
from detviewer.core.types import Inference
from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ViewFrame, colormap, fmt_int, fmt_num
from detviewer.render.model.spec import ViewRequest, ViewSpec
from detviewer.render.model.views.classic_common import (
    CANNOT_SHOW,
    classifier_name,
    level_text,
    score_name,
    to_photo,
    trace_of,
    window_in_photo,
)

__all__ = ["SPEC", "windows_frame", "windows_steps", "margin_rect"]

LABELLED = 5  # the best windows of a scale carry their score


def windows_steps(inference: Inference) -> int:
    """One step per scale, then all scales."""
    return len(trace_of(inference).levels) + 1


def margin_rect(inference: Inference, trace: ClassicTrace, k: int) -> np.ndarray:
    """(4,) xyxy photo pixels the heat map of scale k covers: one cell per window position, centred on the window's
    centre, a step wide."""
    level = trace.levels[k]
    f = level.factor * to_photo(inference)
    bh, bw = trace.base_window
    rows, cols = level.grid
    s = level.step
    x0, y0 = (bw - s) / 2, (bh - s) / 2
    return np.array([x0, y0, x0 + cols * s, y0 + rows * s], np.float32) * np.float32(f)


def _score_range(trace: ClassicTrace) -> tuple[float, float]:
    values = [trace.raw_scores] + [m[np.isfinite(m)] for m in trace.margins]
    values = np.concatenate([np.ravel(v) for v in values]) if values else np.zeros(0)
    if not values.size:
        return 0.0, 1.0
    return float(values.min()), float(max(values.max(), values.min() + 1e-6))


def windows_frame(inference: Inference, step: int | None = None) -> ViewFrame:
    """Scale ``step`` (0-based): its raw windows and scores (HOG: its margin heat map); the last step: all scales."""
    trace = trace_of(inference)
    n = len(trace.levels)
    steps = n + 1
    k = 0 if step is None else int(np.clip(step, 0, steps - 1))
    if k == n:
        return _all_scales(inference, trace, k, steps)
    level = trace.levels[k]
    lo, hi = _score_range(trace)
    at = np.flatnonzero(trace.raw_level == k)
    at = at[np.argsort(-trace.raw_scores[at], kind="stable")]
    layers: list = []
    if trace.margins:
        layers.append(HeatmapLayer("svm_margin", margin_rect(inference, trace, k), trace.margins[k], "inferno",
                                   alpha=170, value_range=(lo, hi)))
    scores = trace.raw_scores[at]
    cmap = "inferno" if trace.margins else "viridis"
    labels = tuple(f"{s:.2f}" if i < LABELLED else "" for i, s in enumerate(scores.tolist()))
    layers.append(BoxLayer("raw_windows", trace.raw_xyxy[at], colormap(scores, cmap, lo, hi), at.astype(np.int64),
                           labels=labels, width=2.5))
    ww, wh = window_in_photo(inference, level)
    rows, cols = level.grid
    what = score_name(trace)
    if trace.margins:
        margins = trace.margins[k]
        caption = (f"{level_text(inference, k, trace).capitalize()}: the SVM margin of each of the "
                   f"{cols} × {rows} = {fmt_int(level.positions)} HOG windows of {ww}×{wh} px, coloured at the "
                   f"window's centre (dark: no person, bright: person); {fmt_int(len(at))} are above "
                   f"{fmt_num(trace.threshold)} (boxes), the best margin {float(np.nanmax(margins)):.2f}.")
    else:
        caption = (f"{level_text(inference, k, trace).capitalize()}: {fmt_int(level.positions)} windows of "
                   f"{ww}×{wh} px tried, {fmt_int(len(at))} passed every stage of the Haar cascade (boxes, colour = "
                   f"{what}" + _span(scores) + ").")
    table = [("Scale", f"{k + 1} of {n}, window {ww}×{wh} px"), ("Positions", fmt_int(level.positions)),
             ("Accepted", fmt_int(len(at)))]
    table += [(f"Window {i + 1}", f"{what} {s:.2f}") for i, s in enumerate(scores[:LABELLED].tolist())]
    legend = ((f"{what} {lo:.1f}", tuple(int(v) for v in colormap([lo], cmap, lo, hi)[0])),
              (f"{what} {hi:.1f}", tuple(int(v) for v in colormap([hi], cmap, lo, hi)[0])))
    label = f"{ww}×{wh}: {fmt_int(len(at))} of {fmt_int(level.positions)}"
    return ViewFrame(layers, caption, table, k, steps, label, legend=legend, dim=0.35 if trace.margins else 0.0)


def _span(scores: np.ndarray) -> str:
    if not len(scores):
        return ""
    if len(scores) == 1:
        return f", {scores[0]:.2f}"
    return f", {scores.min():.2f} … {scores.max():.2f}"


def _all_scales(inference: Inference, trace: ClassicTrace, k: int, steps: int) -> ViewFrame:
    sides = np.array([window_in_photo(inference, level)[0] for level in trace.levels], np.float32)
    raw_sides = sides[trace.raw_level] if trace.raw_count else np.zeros(0, np.float32)
    span = raw_sides if len(raw_sides) else sides
    lo, hi = (float(span.min()), float(span.max())) if len(span) else (0.0, 1.0)
    layers = [BoxLayer("raw_windows", trace.raw_xyxy, colormap(raw_sides, "viridis", lo, hi),
                       np.arange(trace.raw_count, dtype=np.int64), width=1.5)]
    used = len(np.unique(trace.raw_level))
    crowd = int(trace.groups.counts.max()) if len(trace.groups) and trace.groups.min_neighbors > 0 else 0
    if crowd >= 3:
        crowded = (f" {crowd} of them sit on one spot at neighbouring positions and scales: too many windows for one "
                   "object.")
    elif trace.raw_count:
        crowded = " No spot gathers more than two: scattered single hits, the kind grouping drops."
    else:
        crowded = ""
    caption = (f"All {len(trace.levels)} scales: {classifier_name(trace)} accepted {fmt_int(trace.raw_count)} of "
               f"{fmt_int(trace.positions)} windows, at {used} of the scales (colour = window size).{crowded}")
    table = [("Scales", str(len(trace.levels))), ("Positions", fmt_int(trace.positions)),
             ("Accepted", fmt_int(trace.raw_count)), ("Scales with a window", str(used))]
    legend = tuple((f"{side:.0f} px windows", tuple(int(v) for v in colormap([side], "viridis", lo, hi)[0]))
                   for side in sorted({lo, hi}))
    return ViewFrame(layers, caption, table, k, steps, "All scales", legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    return windows_frame(request.inference, request.step)


def _steps(request: ViewRequest) -> int:
    return windows_steps(request.inference) if getattr(request.inference, "classic", None) is not None else 1


SPEC = ViewSpec(
    "classic-windows", "Sliding windows + scores", _build, step_count=_steps, needs="classic", cannot_show=CANNOT_SHOW,
    help="Steps: the windows the classifier accepted at one scale with their scores (HOG: the SVM margin of every "
         "window as a heat map), then all scales.")
