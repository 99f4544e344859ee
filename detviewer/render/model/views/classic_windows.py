"""Every window at every scale with its score: what a classic detector's classifier said before any grouping.

Steps: one per scale, then all scales together. The Haar cascade's raw windows are those that passed every stage
(OpenCV's ``detectMultiScale3(minNeighbors=0, outputRejectLevels=True)``), coloured by the last stage's sum; for
HOG + SVM every position gets its SVM margin, drawn as a heat map at the window centres, and the windows above
the hit threshold are drawn as boxes.

Colours come from the light parts of viridis and inferno: on lecture mode's black every box and legend swatch keeps
at least 3:1 contrast (the maps' near-black ends vanished there). The margin heat map's colours run from a low
percentile of every margin (lower ones share its colour) to the best margin or the threshold, whichever is higher,
the same at every scale.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.classic import ClassicTrace
from detviewer.core.types import Inference
from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ViewFrame, colormap, fmt_int, fmt_num, solid
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
SCORE_MAP = "viridis-light"  # the cascade's window scores, and window sizes
MARGIN_MAP = "inferno-light"  # HOG's SVM margins
MARGIN_ALPHA = 210  # the best margins: nearly opaque
MARGIN_MIN_ALPHA = 70  # the lowest: the photo shows through
MARGIN_FLOOR = 25  # percentile of every margin the heat map's colours start at: the rest spread over the top 75 %
HIT = (86, 180, 233)  # HOG: a window whose margin is above the threshold (drawn over the heat map)
#: two legend colours closer than this (Euclidean RGB) read as one; the later entry is left out
LEGEND_DISTANCE = 50.0


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
    """(lo, hi) of the colours. The cascade: its raw windows' scores. HOG: the margins' MARGIN_FLOOR percentile
    up to the best margin or the threshold (a single outlier at -10 left every other window near the top)."""
    if trace.margins:
        values = np.concatenate([m[np.isfinite(m)].ravel() for m in trace.margins] + [trace.raw_scores.ravel()])
        if not values.size:
            return float(trace.threshold), float(trace.threshold) + 1.0
        lo = float(np.percentile(values, MARGIN_FLOOR))
        hi = max(float(values.max()), float(trace.threshold))
        return lo, max(hi, lo + 1e-6)
    values = trace.raw_scores.ravel()
    if not values.size:
        return 0.0, 1.0
    return float(values.min()), float(max(values.max(), values.min() + 1e-6))


def _swatch(value: float, name: str, lo: float, hi: float) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in colormap([value], name, lo, hi)[0])
    return r, g, b


def _distinct(entries: list[tuple[str, tuple[int, int, int]]]) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """The legend without entries whose colour reads like an earlier one's."""
    kept: list[tuple[str, tuple[int, int, int]]] = []
    for text, colour in entries:
        if all(np.linalg.norm(np.subtract(colour, c, dtype=np.float64)) >= LEGEND_DISTANCE for _, c in kept):
            kept.append((text, colour))
    return tuple(kept)


def _legend(trace: ClassicTrace, lo: float, hi: float) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    what = score_name(trace)
    if trace.margins:
        thr = float(trace.threshold)
        entries = [(f"{what} ≤ {lo:.2f}", _swatch(lo, MARGIN_MAP, lo, hi)),
                   (f"{what} {fmt_num(thr)}: the threshold", _swatch(thr, MARGIN_MAP, lo, hi))]
        if hi > thr:
            entries.append((f"{what} {hi:.2f}", _swatch(hi, MARGIN_MAP, lo, hi)))
        return _distinct(entries) + ((f"a window above {fmt_num(thr)}", HIT),)
    if not trace.raw_count:
        return ()
    if hi - lo < 0.05:
        return ((f"{what} {lo:.2f}", _swatch(lo, SCORE_MAP, lo, hi)),)
    return _distinct([(f"{what} {lo:.1f}", _swatch(lo, SCORE_MAP, lo, hi)),
                      (f"{what} {hi:.1f}", _swatch(hi, SCORE_MAP, lo, hi))])


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
        layers.append(HeatmapLayer("svm_margin", margin_rect(inference, trace, k), trace.margins[k], MARGIN_MAP,
                                   alpha=MARGIN_ALPHA, value_range=(lo, hi), min_alpha=MARGIN_MIN_ALPHA))
    scores = trace.raw_scores[at]
    colors = solid(HIT, len(at)) if trace.margins else colormap(scores, SCORE_MAP, lo, hi)
    labels = tuple(f"{s:.2f}" if i < LABELLED else "" for i, s in enumerate(scores.tolist()))
    layers.append(BoxLayer("raw_windows", trace.raw_xyxy[at], colors, at.astype(np.int64), labels=labels, width=2.5))
    ww, wh = window_in_photo(inference, level)
    rows, cols = level.grid
    what = score_name(trace)
    if trace.margins:
        margins = trace.margins[k]
        caption = (f"{level_text(inference, k, trace).capitalize()}: the SVM margin of each of the "
                   f"{cols} × {rows} = {fmt_int(level.positions)} HOG windows of {ww}×{wh} px, coloured at the "
                   f"window's centre (red: no person, yellow: person); {fmt_int(len(at))} "
                   f"{'is' if len(at) == 1 else 'are'} above {fmt_num(trace.threshold)} "
                   f"({'blue box' if len(at) == 1 else 'blue boxes'}), the best "
                   f"margin {float(np.nanmax(margins)):.2f}.")
    else:
        caption = (f"{level_text(inference, k, trace).capitalize()}: {fmt_int(level.positions)} windows of "
                   f"{ww}×{wh} px tried, {fmt_int(len(at))} passed every stage of the Haar cascade (boxes, colour = "
                   f"{what}" + _span(scores) + ").")
    table = [("Scale", f"{k + 1} of {n}, window {ww}×{wh} px"), ("Positions", fmt_int(level.positions)),
             ("Accepted", fmt_int(len(at)))]
    table += [(f"Window {i + 1}", f"{what} {s:.2f}") for i, s in enumerate(scores[:LABELLED].tolist())]
    label = f"{ww}×{wh}: {fmt_int(len(at))} of {fmt_int(level.positions)}"
    return ViewFrame(layers, caption, table, k, steps, label, legend=_legend(trace, lo, hi),
                     dim=0.35 if trace.margins else 0.0)


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
    layers = [BoxLayer("raw_windows", trace.raw_xyxy, colormap(raw_sides, SCORE_MAP, lo, hi),
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
    legend = _distinct([(f"{side:.0f} px windows", _swatch(side, SCORE_MAP, lo, hi)) for side in sorted({lo, hi})])
    return ViewFrame(layers, caption, table, k, steps, "All scales", legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    return windows_frame(request.inference, request.step)


def _steps(request: ViewRequest) -> int:
    return windows_steps(request.inference) if getattr(request.inference, "classic", None) is not None else 1


SPEC = ViewSpec(
    "classic-windows", "Sliding windows + scores", _build, step_count=_steps, needs="classic", cannot_show=CANNOT_SHOW,
    help="Steps: the windows the classifier accepted at one scale with their scores (HOG: the SVM margin of every "
         "window as a heat map), then all scales.")
