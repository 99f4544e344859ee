"""From raw windows to detections: OpenCV's neighbour grouping beside greedy NMS, stepped like the NMS view.

Mode "opencv" (what the detector does): cv::groupRectangles joins windows whose four edges all lie within
eps × their size of each other (transitively) into clusters, averages each cluster, and keeps a cluster of more than
minNeighbors windows that no stronger cluster contains. Steps: the raw windows, one cluster at a time (largest
first), the result. Mode "nms": greedy NMS over the same raw windows by falling score at the window's IoU threshold
(ops.nms.nms_trace). Steps: start, one kept window at a time, the result. Both last steps draw both results.
"""

from __future__ import annotations

import numpy as np

from detviewer.core.classic import ClassicTrace
from detviewer.core.types import KEPT as KEPT_STATE
from detviewer.core.types import PENDING, Inference, NMSTrace
from detviewer.render.model.colors import GREY, HIGHLIGHT, SUPPRESS
from detviewer.render.model.primitives import BoxLayer, ViewFrame, fmt_int, fmt_num, memo, solid
from detviewer.render.model.spec import Control, ViewRequest, ViewSpec
from detviewer.render.model.views.classic_common import CANNOT_SHOW, trace_of

__all__ = ["SPEC", "MODES", "grouping_frame", "grouping_steps", "cluster_order", "greedy_nms"]

MODES = ("opencv", "nms")
KEPT = (0, 158, 115)      # a kept cluster / window
NMS_RESULT = (86, 180, 233)  # greedy NMS's result, beside OpenCV's


def cluster_order(trace: ClassicTrace) -> np.ndarray:
    """The clusters in the order the steps show them: most windows first (ties by first window)."""
    groups = trace.groups
    return np.lexsort((np.arange(len(groups)), -groups.counts)).astype(np.int64)


def greedy_nms(inference: Inference, iou: float) -> NMSTrace:
    """Greedy NMS of the raw windows by falling score at ``iou`` (every score counts: cascade sums may be < 0)."""
    from detviewer.ops.nms import nms_trace

    trace = trace_of(inference)
    return memo(inference, ("classic_nms", round(float(iou), 4)), lambda: nms_trace(
        trace.raw_xyxy, trace.raw_scores, iou_threshold=float(iou), score_threshold=float("-inf"), class_agnostic=True))


def grouping_steps(inference: Inference, mode: str = "opencv", iou: float = 0.5) -> int:
    """opencv: raw, one per cluster, result; nms: start, one per kept window, result."""
    trace = trace_of(inference)
    if mode == "nms":
        return len(greedy_nms(inference, iou).steps) + 2
    return len(trace.groups) + 2


def grouping_frame(inference: Inference, mode: str = "opencv", step: int | None = None, iou: float = 0.5) -> ViewFrame:
    if mode not in MODES:
        raise ValueError(f"grouping mode must be one of {MODES}, got {mode!r}")
    steps = grouping_steps(inference, mode, iou)
    k = 0 if step is None else int(np.clip(step, 0, steps - 1))
    if k == steps - 1:
        return _both_results(inference, mode, k, steps, iou)
    return (_nms_step if mode == "nms" else _cluster_step)(inference, k, steps, iou)


def _raw_layer(trace: ClassicTrace, mask: np.ndarray, name: str, color, width: float = 1.0, alpha: int = 255,
               dashed: bool = False) -> BoxLayer:
    at = np.flatnonzero(mask)
    return BoxLayer(name, trace.raw_xyxy[at], solid(color, len(at)), at.astype(np.int64), width=width, alpha=alpha,
                    dashed=dashed)


def _threshold_name(trace: ClassicTrace) -> str:
    """OpenCV's name for the grouping's threshold: the cascade's minNeighbors, HOG's groupThreshold."""
    return "minNeighbors" if trace.method == "haar" else "groupThreshold"


def _rule(trace: ClassicTrace) -> str:
    g = trace.groups
    return (f"OpenCV joins windows whose four edges lie within {fmt_num(g.eps)} × their size of each other into "
            f"clusters and keeps the average of a cluster of more than {g.min_neighbors} windows "
            f"({_threshold_name(trace)})")


def _cluster_step(inference: Inference, k: int, steps: int, iou: float) -> ViewFrame:
    trace = trace_of(inference)
    g = trace.groups
    order = cluster_order(trace)
    if k == 0:
        layers = [_raw_layer(trace, np.ones(trace.raw_count, bool), "raw_windows", GREY, 1.5)]
        caption = f"{fmt_int(trace.raw_count)} raw windows before grouping. {_rule(trace)}."
        table = [("Raw windows", fmt_int(trace.raw_count)), ("Clusters", fmt_int(len(g))),
                 (_threshold_name(trace), str(g.min_neighbors)), ("eps", fmt_num(g.eps))]
        return ViewFrame(layers, caption, table, 0, steps, "Raw windows",
                         legend=(("raw window, not grouped yet", GREY),))
    current = int(order[k - 1])
    done = order[:k - 1]
    members = g.labels == current
    pending = ~np.isin(g.labels, order[:k])
    layers: list = [_raw_layer(trace, pending, "pending_windows", GREY, 1.5, alpha=220),
                    _raw_layer(trace, members, "cluster_windows", HIGHLIGHT, 1.5)]
    decided_kept = done[g.kept[done]]
    if len(decided_kept):
        layers.append(BoxLayer("kept_so_far", g.boxes[decided_kept], solid(KEPT, len(decided_kept)), decided_kept,
                               labels=tuple(f"{g.counts[i]} windows" for i in decided_kept), width=3.0))
    count = int(g.counts[current])
    kept = bool(g.kept[current])
    if kept:
        verdict = f"kept: {count} windows > {_threshold_name(trace)} {g.min_neighbors}"
    elif g.inside[current] >= 0:
        verdict = (f"dropped: inside the cluster of {int(g.counts[g.inside[current]])} windows")
    else:
        verdict = f"dropped: {count} window{'s' if count != 1 else ''} ≤ {_threshold_name(trace)} {g.min_neighbors}"
    layers.append(BoxLayer("cluster_mean", g.boxes[[current]], solid(KEPT if kept else SUPPRESS, 1),
                           np.array([current], np.int64), labels=(verdict.split(":")[0],), width=3.5,
                           dashed=not kept))
    x1, y1, x2, y2 = g.boxes[current].tolist()
    caption = (f"Cluster {k} of {len(g)}: {count} raw window{'s' if count != 1 else ''} (yellow) averaged to "
               f"{x2 - x1:.0f}×{y2 - y1:.0f} at ({x1:.0f}, {y1:.0f}); {verdict}.")
    table = [("Cluster", f"{k} of {len(g)}"), ("Windows", str(count)), ("Average box",
             f"({x1:.0f}, {y1:.0f}) – ({x2:.0f}, {y2:.0f})"), ("Verdict", verdict),
             ("Kept so far", fmt_int(len(decided_kept) + int(kept)))]
    legend = (("this cluster's windows", HIGHLIGHT), ("its average, kept", KEPT), ("its average, dropped", SUPPRESS),
              ("not grouped yet", GREY))
    return ViewFrame(layers, caption, table, k, steps, f"cluster {k}: {count} windows", legend=legend, dim=0.3)


def _nms_step(inference: Inference, k: int, steps: int, iou: float) -> ViewFrame:
    trace = trace_of(inference)
    nms = greedy_nms(inference, iou)
    state = nms.state_at(k)
    n_kept = len(nms.steps)
    if k == 0:
        layers = [_raw_layer(trace, np.ones(trace.raw_count, bool), "raw_windows", GREY, 1.5)]
        caption = (f"Greedy NMS over the same {fmt_int(trace.raw_count)} raw windows: take the best-scoring one, remove "
                   f"every window overlapping it by IoU > {fmt_num(iou)}, repeat.")
        table = [("Raw windows", fmt_int(trace.raw_count)), ("IoU threshold", fmt_num(iou)),
                 ("Kept by NMS", fmt_int(n_kept))]
        return ViewFrame(layers, caption, table, 0, steps, "Start", legend=(("raw window, not decided yet", GREY),))
    current = nms.steps[k - 1]
    kept_before = np.zeros(trace.raw_count, bool)
    kept_before[[s.kept for s in nms.steps[:k - 1]]] = True
    layers: list = [_raw_layer(trace, state == PENDING, "pending_windows", GREY, 1.5, alpha=220),
                    _raw_layer(trace, np.isin(np.arange(trace.raw_count), current.suppressed), "suppressed", SUPPRESS,
                               1.5, alpha=150, dashed=True),  # translucent: dozens of them hid the kept one
                    _raw_layer(trace, kept_before & (state == KEPT_STATE), "kept_so_far", KEPT, 2.5)]
    layers.append(BoxLayer("kept_now", trace.raw_xyxy[[current.kept]], solid(HIGHLIGHT, 1),
                           np.array([current.kept], np.int64), labels=(f"{trace.raw_scores[current.kept]:.2f}",),
                           width=3.5))
    caption = (f"NMS step {k} of {n_kept}: the best remaining window (yellow, score "
               f"{trace.raw_scores[current.kept]:.2f}) is kept and removes {fmt_int(len(current.suppressed))} "
               f"window{'s' if len(current.suppressed) != 1 else ''} overlapping it by IoU > {fmt_num(iou)} (red).")
    table = [("Step", f"{k} of {n_kept}"), ("Removed now", fmt_int(len(current.suppressed))),
             ("Still pending", fmt_int(int((state == PENDING).sum())))]
    legend = (("kept at this step", HIGHLIGHT), ("removed at this step", SUPPRESS), ("kept before", KEPT),
              ("not decided yet", GREY))
    return ViewFrame(layers, caption, table, k, steps, f"keep window {current.kept + 1}", legend=legend, dim=0.3)


def _both_results(inference: Inference, mode: str, k: int, steps: int, iou: float) -> ViewFrame:
    trace = trace_of(inference)
    g = trace.groups
    kept = np.flatnonzero(g.kept)
    nms = greedy_nms(inference, iou)
    layers = [_raw_layer(trace, np.ones(trace.raw_count, bool), "raw_windows", GREY, 1.0, alpha=110),
              BoxLayer("nms_result", trace.raw_xyxy[nms.keep], solid(NMS_RESULT, len(nms.keep)), nms.keep.astype(np.int64),
                       width=2.5, dashed=True),
              BoxLayer("grouping_result", g.boxes[kept], solid(KEPT, len(kept)), kept.astype(np.int64),
                       labels=tuple(f"{g.counts[i]} windows" for i in kept), width=3.5)]
    single = int((g.counts == 1).sum())
    caption = (f"From {fmt_int(trace.raw_count)} raw windows: OpenCV's grouping keeps {fmt_int(len(kept))} "
               f"(green: clusters of more than {g.min_neighbors} windows), greedy NMS at IoU {fmt_num(iou)} keeps "
               f"{fmt_int(len(nms.keep))} (blue, dashed): NMS keeps every isolated window, grouping asks for "
               f"agreement ({fmt_int(single)} cluster{'s' if single != 1 else ''} of one window dropped).")
    table = [("Raw windows", fmt_int(trace.raw_count)), ("OpenCV grouping", fmt_int(len(kept))),
             (f"Greedy NMS (IoU {fmt_num(iou)})", fmt_int(len(nms.keep)))]
    legend = (("OpenCV's grouping", KEPT), ("greedy NMS", NMS_RESULT), ("raw window", GREY))
    return ViewFrame(layers, caption, table, k, steps, "Result: grouping and NMS", legend=legend)


def _iou(request: ViewRequest) -> float:
    return float(request.replay.thresholds.iou)


def _build(request: ViewRequest) -> ViewFrame:
    return grouping_frame(request.inference, request.controls.get("mode", "opencv"), request.step, _iou(request))


def _steps(request: ViewRequest) -> int:
    if getattr(request.inference, "classic", None) is None:
        return 1
    return grouping_steps(request.inference, request.controls.get("mode", "opencv"), _iou(request))


SPEC = ViewSpec(
    "classic-grouping", "Grouping", _build, step_count=_steps, needs="classic", cannot_show=CANNOT_SHOW,
    controls=(Control("mode", "Grouping", "choice", "opencv", choices=MODES,
                      tooltip="opencv: OpenCV's neighbour grouping (what the detector does); nms: greedy NMS"),),
    help="Steps: the raw windows, then one cluster (OpenCV's grouping) or one kept window (greedy NMS) at a time, "
         "then both results side by side; the IoU slider sets NMS's threshold.")
