"""What ``detviewer compare`` prints: the per-class Δ table with the bootstrap interval of ΔAP, both error
breakdowns, the objects B fixed and broke, the images B got worse on (with the objects one side found and the
other missed), and the same as JSON. Δ is always B - A."""

from __future__ import annotations

import json
import math

from detviewer.cli.eval_report import class_keys, fmt, table
from detviewer.evaluation.errors import ERROR_TYPES

__all__ = ["print_comparison", "compare_json", "verdict"]


def _signed(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.3f}"


def _num(value) -> float | None:
    """A float for JSON (NaN -> null)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _interval_text(interval) -> str:
    return "-" if not math.isfinite(interval.low) else f"[{interval.low:+.3f}, {interval.high:+.3f}]"


def verdict(bootstrap) -> str:
    """One sentence on the mean ΔAP's interval (a ``BootstrapResult``)."""
    ap, ap50 = bootstrap.ap, bootstrap.ap50
    if not math.isfinite(ap.low):
        return "No class has ground truth: no interval."
    if ap.low > 0:
        word = "B is better than A"
    elif ap.high < 0:
        word = "B is worse than A"
    else:
        word = "no clear difference, the interval holds 0"
    share = round(100 * bootstrap.confidence)
    return (f"ΔAP {ap.delta:+.3f}, {share}% interval {_interval_text(ap)}; ΔAP50 {ap50.delta:+.3f} "
            f"{_interval_text(ap50)}: {word} (paired bootstrap, {bootstrap.resamples} resamples of the "
            f"{bootstrap.num_images} images, seed {bootstrap.seed}).")


def print_comparison(snap, dataset, n_det: tuple[int, int], sort: str, top: int,
                     defaults: tuple[bool, bool] = (False, False), bootstrap=None) -> None:
    """The human report of a ``ComparisonSnapshot`` over ``dataset``; defaults: which thresholds are F1-best;
    bootstrap: the ``BootstrapResult`` of its comparison, or None."""
    name_a, name_b = snap.names
    sa, sb = snap.score_thresholds
    print(f"A: {name_a} ({n_det[0]} detections)   B: {name_b} ({n_det[1]} detections)")
    print(f"on {dataset.summary()}")
    how = [" (F1-best)" if d else "" for d in defaults]
    print(f"A counted at score > {sa:.3f}{how[0]}, B at score > {sb:.3f}{how[1]}; "
          f"matched at IoU {snap.iou_threshold:g}")
    print()
    keys = class_keys(dataset.class_names, dataset.gt.category_ids)
    _print_classes(snap, keys, bootstrap)
    if bootstrap is not None:
        print(verdict(bootstrap))
    print()
    _print_errors(snap)
    print()
    _print_changes(snap, dataset, top)
    print()
    _print_images(snap, dataset, sort, top)


def _print_classes(snap, keys, bootstrap=None) -> None:
    c = snap.classes
    ci = ([_interval_text(bootstrap.class_interval(k, c.d_ap[k])) for k in range(len(keys))]
          if bootstrap is not None else None)
    rows = [(key, str(int(g)), fmt(a), fmt(b), _signed(d), fmt(a5), fmt(b5), _signed(d5), fmt(ra), fmt(rb), _signed(dr))
            for key, g, a, b, d, a5, b5, d5, ra, rb, dr in zip(keys, c.n_gt, c.ap_a, c.ap_b, c.d_ap, c.ap50_a, c.ap50_b,
                                                                 c.d_ap50, c.recall_a, c.recall_b, c.d_recall)]
    ca, cb = snap.a.coco.stats, snap.b.coco.stats
    ra, rb = snap.a.curves.at(snap.a.score_threshold)[1], snap.b.curves.at(snap.b.score_threshold)[1]
    rows.append(("all (mean)", str(int(c.n_gt.sum())), fmt(ca["AP"]), fmt(cb["AP"]), _signed(cb["AP"] - ca["AP"]),
                 fmt(ca["AP50"]), fmt(cb["AP50"]), _signed(cb["AP50"] - ca["AP50"]), fmt(ra), fmt(rb),
                 _signed(rb - ra)))
    header = ("class", "GT", "AP A", "AP B", "ΔAP", "AP50 A", "AP50 B", "ΔAP50", "R A", "R B", "ΔR")
    if ci is not None:  # the interval beside ΔAP
        ci.append(_interval_text(bootstrap.ap))
        rows = [row[:5] + (text,) + row[5:] for row, text in zip(rows, ci)]
        header = header[:5] + ("ΔAP 95%",) + header[5:]
    table(header, rows)
    print("(Δ = B - A. AP, AP50: COCO 101-point over all scores; R: recall counted at each side's score; "
          "-: no ground truth)")


def _print_changes(snap, dataset, top: int) -> None:
    changes = snap.changes()
    sa, sb = snap.score_thresholds
    print(f"Objects B fixed (B finds, A missed): {len(changes.fixed)}; B broke (A found, B misses): "
          f"{len(changes.broken)} (A at score > {sa:.3f}, B at > {sb:.3f}, IoU {snap.iou_threshold:g}).")
    rows = []
    for word, found in (("fixed", changes.fixed), ("broken", changes.broken)):
        for n in range(min(top, len(found))):
            gt = int(found.gt[n])
            box = " ".join(f"{v:g}" for v in dataset.boxes.xywh[gt])
            rows.append((word, _file(dataset, int(found.image[n])), dataset.class_names[int(found.category[n])],
                         box, f"{found.score[n]:.3f}"))
    if rows:
        print(f"The most confident finds, up to {top} of each:")
        table(("", "image", "class", "object x y w h", "found at score"), rows)


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
        rows.append((_file(dataset, i), _signed(im.d_ap[i]),
                     fmt(im.ap_a[i]) if math.isfinite(im.ap_a[i]) else "-",
                     fmt(im.ap_b[i]) if math.isfinite(im.ap_b[i]) else "-", f"{int(im.d_net[i]):+d}",
                     f"{im.tp_a[i]}/{im.fp_a[i]}/{im.fn_a[i]}", f"{im.tp_b[i]}/{im.fp_b[i]}/{im.fn_b[i]}",
                     str(int(im.a_only[i])), str(int(im.b_only[i]))))
    if rows:
        table(("image", "ΔAP", "AP A", "AP B", "Δnet", "A TP/FP/FN", "B TP/FP/FN", "A found, B missed",
               "B found, A missed"), rows)
    print("(net = TP - FP - FN at each side's score; per-image AP: COCO 101-point at the IoU, - without objects)")


def _file(dataset, image: int) -> str:
    return dataset.gt.file_names[image] or str(int(dataset.gt.image_ids[image]))


def _change_list(found, dataset, dt) -> list[dict]:
    """Every object of an ``ObjectList`` with its image and the detection that found it."""
    ids, names = dataset.gt.image_ids, dataset.gt.file_names
    objects = _objects(found.gt, found.det, dataset, dt)
    return [{"image_id": int(ids[i]), "file_name": names[i], **obj} for i, obj in zip(found.image.tolist(), objects)]


def _bootstrap_json(bootstrap) -> dict | None:
    if bootstrap is None:
        return None

    def interval(iv) -> dict:
        return {"delta": _num(iv.delta), "low": _num(iv.low), "high": _num(iv.high)}
    return {"method": "paired bootstrap: images resampled with replacement, the same for A and B; percentile "
                      "interval", "resamples": bootstrap.resamples, "seed": bootstrap.seed,
            "confidence": bootstrap.confidence, "dAP": interval(bootstrap.ap), "dAP50": interval(bootstrap.ap50)}


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


def compare_json(snap, dataset, sort: str, top: int, bootstrap=None) -> str:
    """``{"a", "b", "iou", "classes", "mean", "bootstrap", "objects", "errors", "images", "worst"}``; Δ = B - A,
    null where undefined. ``bootstrap``: the intervals of the mean ΔAP and ΔAP50 (null when skipped), each
    class's as ``dAP_interval`` [low, high]; ``objects``: every object B ``fixed`` and ``broken``;
    ``images`` lists every image, worst first; ``worst`` the first ``top`` with the objects each side missed."""
    c = snap.classes
    keys = class_keys(dataset.class_names, dataset.gt.category_ids)
    classes = {key: {"gt": int(c.n_gt[k]), "AP_a": _num(c.ap_a[k]), "AP_b": _num(c.ap_b[k]), "dAP": _num(c.d_ap[k]),
                     "AP50_a": _num(c.ap50_a[k]), "AP50_b": _num(c.ap50_b[k]), "dAP50": _num(c.d_ap50[k]),
                     "recall_a": _num(c.recall_a[k]), "recall_b": _num(c.recall_b[k]),
                     "drecall": _num(c.d_recall[k])} for k, key in enumerate(keys)}
    if bootstrap is not None:
        for k, key in enumerate(keys):
            iv = bootstrap.class_interval(k, c.d_ap[k])
            classes[key]["dAP_interval"] = [_num(iv.low), _num(iv.high)] if math.isfinite(iv.low) else None
    sides = {}
    for side, ev_snap, name in (("a", snap.a, snap.names[0]), ("b", snap.b, snap.names[1])):
        tide = ev_snap.tide
        sides[side] = {"name": name, "score": ev_snap.score_threshold, "detections": len(ev_snap.evaluation.dt),
                       "AP": ev_snap.coco.stats["AP"], "AP50": ev_snap.coco.stats["AP50"],
                       "recall": ev_snap.curves.at(ev_snap.score_threshold)[1],
                       "errors": {"ap": tide.ap, "dAP": dict(tide.main_dap), "fp_dAP": tide.fp_dap,
                                  "fn_dAP": tide.fn_dap, "counts": tide.counts}}
    order = snap.images.worst_first(sort)
    changes = snap.changes()
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
           "bootstrap": _bootstrap_json(bootstrap),
           "objects": {"fixed": _change_list(changes.fixed, dataset, snap.comparison.b.dt),
                       "broken": _change_list(changes.broken, dataset, snap.comparison.a.dt)},
           "classes": classes, "error_deltas": snap.error_deltas, "sort": sort,
           "images": [_image_row(snap, dataset, i) for i in order.tolist()], "worst": worst}
    return json.dumps(out, indent=2)

