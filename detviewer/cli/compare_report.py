"""What ``detviewer compare`` prints: the per-class Δ table, both error breakdowns, the images B got worse on
(with the objects one side found and the other missed), and the same as JSON. Δ is always B - A."""

from __future__ import annotations

import json
import math

from detviewer.cli.eval_report import class_keys, fmt, table
from detviewer.evaluation.errors import ERROR_TYPES

__all__ = ["print_comparison", "compare_json"]


def _signed(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.3f}"


def _num(value) -> float | None:
    """A float for JSON (NaN -> null)."""
    value = float(value)
    return value if math.isfinite(value) else None


def print_comparison(snap, dataset, n_det: tuple[int, int], sort: str, top: int,
                     defaults: tuple[bool, bool] = (False, False)) -> None:
    """The human report of a ``ComparisonSnapshot`` over ``dataset``; defaults: which thresholds are F1-best."""
    name_a, name_b = snap.names
    sa, sb = snap.score_thresholds
    print(f"A: {name_a} ({n_det[0]} detections)   B: {name_b} ({n_det[1]} detections)")
    print(f"on {dataset.summary()}")
    how = [" (F1-best)" if d else "" for d in defaults]
    print(f"A counted at score > {sa:.3f}{how[0]}, B at score > {sb:.3f}{how[1]}; "
          f"matched at IoU {snap.iou_threshold:g}")
    print()
    _print_classes(snap, class_keys(dataset.class_names, dataset.gt.category_ids))
    print()
    _print_errors(snap)
    print()
    _print_images(snap, dataset, sort, top)


def _print_classes(snap, keys) -> None:
    c = snap.classes
    rows = [(key, str(int(g)), fmt(a), fmt(b), _signed(d), fmt(a5), fmt(b5), _signed(d5), fmt(ra), fmt(rb), _signed(dr))
            for key, g, a, b, d, a5, b5, d5, ra, rb, dr in zip(keys, c.n_gt, c.ap_a, c.ap_b, c.d_ap, c.ap50_a, c.ap50_b,
                                                                 c.d_ap50, c.recall_a, c.recall_b, c.d_recall)]
    ca, cb = snap.a.coco.stats, snap.b.coco.stats
    ra, rb = snap.a.curves.at(snap.a.score_threshold)[1], snap.b.curves.at(snap.b.score_threshold)[1]
    rows.append(("all (mean)", str(int(c.n_gt.sum())), fmt(ca["AP"]), fmt(cb["AP"]), _signed(cb["AP"] - ca["AP"]),
                 fmt(ca["AP50"]), fmt(cb["AP50"]), _signed(cb["AP50"] - ca["AP50"]), fmt(ra), fmt(rb),
                 _signed(rb - ra)))
    table(("class", "GT", "AP A", "AP B", "ΔAP", "AP50 A", "AP50 B", "ΔAP50", "R A", "R B", "ΔR"), rows)
    print("(Δ = B - A. AP, AP50: COCO 101-point over all scores; R: recall counted at each side's score; "
          "-: no ground truth)")


def _print_errors(snap) -> None:
    ta, tb = snap.tide_a, snap.tide_b
    header = ("errors",) + ERROR_TYPES + ("FP", "FN")

    def row(name, tide):
        return (name,) + tuple(f"{tide.main_dap[t]:.2f}" for t in ERROR_TYPES) + (f"{tide.fp_dap:.2f}",
                                                                                    f"{tide.fn_dap:.2f}")
    delta = ("Δ",) + tuple(f"{snap.error_deltas[t]:+.2f}" for t in ERROR_TYPES) + (
        f"{tb.fp_dap - ta.fp_dap:+.2f}", f"{tb.fn_dap - ta.fn_dap:+.2f}")
    counts = [("A count",) + tuple(str(ta.counts[t]) for t in ERROR_TYPES) + ("", ""),
              ("B count",) + tuple(str(tb.counts[t]) for t in ERROR_TYPES) + ("", "")]
    print(f"TIDE errors at IoU {ta.iou_threshold:g} (dAP, AP points gained if fixed; TIDE AP A {ta.ap:.2f}, "
          f"B {tb.ap:.2f}):")
    table(header, [row("A", ta), row("B", tb), delta, *counts])


def _print_images(snap, dataset, sort: str, top: int) -> None:
    im = snap.images
    order = im.worst_first(sort)[:top]
    key = "Δ per-image AP" if sort == "ap" else "Δ(TP - FP - FN)"
    print(f"Images B got worse on (by {key}), worst {len(order)} of {dataset.num_images}:")
    rows = []
    for i in order.tolist():
        rows.append((dataset.gt.file_names[i] or str(int(dataset.gt.image_ids[i])), _signed(im.d_ap[i]),
                     fmt(im.ap_a[i]) if math.isfinite(im.ap_a[i]) else "-",
                     fmt(im.ap_b[i]) if math.isfinite(im.ap_b[i]) else "-", f"{int(im.d_net[i]):+d}",
                     f"{im.tp_a[i]}/{im.fp_a[i]}/{im.fn_a[i]}", f"{im.tp_b[i]}/{im.fp_b[i]}/{im.fn_b[i]}",
                     str(int(im.a_only[i])), str(int(im.b_only[i]))))
    if rows:
        table(("image", "ΔAP", "AP A", "AP B", "Δnet", "A TP/FP/FN", "B TP/FP/FN", "A found, B missed",
               "B found, A missed"), rows)
    print("(net = TP - FP - FN at each side's score; per-image AP: COCO 101-point at the IoU, - without objects)")


def _objects(gt_indices, det_indices, dataset, dt) -> list[dict]:
    boxes = dataset.boxes
    return [{"gt_id": int(boxes.ids[g]), "category": dataset.class_names[int(boxes.category_index[g])],
             "bbox": [float(v) for v in boxes.xywh[g]],
             "detection": {"bbox": [float(v) for v in dt.xywh[d]], "score": float(dt.scores[d])}}
            for g, d in zip(gt_indices.tolist(), det_indices.tolist())]


def _image_row(snap, dataset, i: int) -> dict:
    im = snap.images
    return {"image_id": int(dataset.gt.image_ids[i]), "file_name": dataset.gt.file_names[i],
            "dAP": _num(im.d_ap[i]), "AP_a": _num(im.ap_a[i]), "AP_b": _num(im.ap_b[i]),
            "net_a": int(im.net_a[i]), "net_b": int(im.net_b[i]), "dnet": int(im.d_net[i]),
            "tp_fp_fn_a": [int(im.tp_a[i]), int(im.fp_a[i]), int(im.fn_a[i])],
            "tp_fp_fn_b": [int(im.tp_b[i]), int(im.fp_b[i]), int(im.fn_b[i])],
            "a_found_b_missed": int(im.a_only[i]), "b_found_a_missed": int(im.b_only[i])}


def compare_json(snap, dataset, sort: str, top: int) -> str:
    """``{"a", "b", "iou", "classes", "mean", "errors", "images", "worst"}``; Δ = B - A, null where undefined.
    ``images`` lists every image, worst first; ``worst`` the first ``top`` with the objects each side missed."""
    c = snap.classes
    keys = class_keys(dataset.class_names, dataset.gt.category_ids)
    classes = {key: {"gt": int(c.n_gt[k]), "AP_a": _num(c.ap_a[k]), "AP_b": _num(c.ap_b[k]), "dAP": _num(c.d_ap[k]),
                     "AP50_a": _num(c.ap50_a[k]), "AP50_b": _num(c.ap50_b[k]), "dAP50": _num(c.d_ap50[k]),
                     "recall_a": _num(c.recall_a[k]), "recall_b": _num(c.recall_b[k]),
                     "drecall": _num(c.d_recall[k])} for k, key in enumerate(keys)}
    sides = {}
    for side, ev_snap, name in (("a", snap.a, snap.names[0]), ("b", snap.b, snap.names[1])):
        tide = ev_snap.tide
        sides[side] = {"name": name, "score": ev_snap.score_threshold, "detections": len(ev_snap.evaluation.dt),
                       "AP": ev_snap.coco.stats["AP"], "AP50": ev_snap.coco.stats["AP50"],
                       "recall": ev_snap.curves.at(ev_snap.score_threshold)[1],
                       "errors": {"ap": tide.ap, "dAP": dict(tide.main_dap), "fp_dAP": tide.fp_dap,
                                  "fn_dAP": tide.fn_dap, "counts": tide.counts}}
    order = snap.images.worst_first(sort)
    worst = []
    for i in order[:top].tolist():
        diff = snap.objects(i)
        worst.append({**_image_row(snap, dataset, i),
                      "a_found_b_missed_objects": _objects(diff.a_only, diff.a_only_det, dataset,
                                                           snap.comparison.a.dt),
                      "b_found_a_missed_objects": _objects(diff.b_only, diff.b_only_det, dataset,
                                                           snap.comparison.b.dt)})
    out = {"a": sides["a"], "b": sides["b"], "iou": snap.iou_threshold, "delta": "B - A",
           "mean": {"dAP": sides["b"]["AP"] - sides["a"]["AP"], "dAP50": sides["b"]["AP50"] - sides["a"]["AP50"],
                    "drecall": sides["b"]["recall"] - sides["a"]["recall"]},
           "classes": classes, "error_deltas": snap.error_deltas, "sort": sort,
           "images": [_image_row(snap, dataset, i) for i in order.tolist()], "worst": worst}
    return json.dumps(out, indent=2)

