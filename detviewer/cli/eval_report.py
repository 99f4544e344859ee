"""What ``detviewer eval`` prints: pycocotools' summary lines, the per-class tables, the TIDE errors, and
the same as JSON. Every number says which interpolation (or none) it uses."""

from __future__ import annotations

import json

import numpy as np

from detviewer.evaluation.errors import ERROR_TYPES

__all__ = ["print_coco", "coco_json", "class_keys", "table", "fmt", "INTERPOLATION", "framework_report",
           "print_framework", "protocol_json"]

STAT_LINES = (
    # (key, AP or AR, IoU label, area, maxDets) in pycocotools' order and wording
    ("AP", 1, "0.50:0.95", "all", 100),
    ("AP50", 1, "0.50", "all", 100),
    ("AP75", 1, "0.75", "all", 100),
    ("AP_small", 1, "0.50:0.95", "small", 100),
    ("AP_medium", 1, "0.50:0.95", "medium", 100),
    ("AP_large", 1, "0.50:0.95", "large", 100),
    ("AR1", 0, "0.50:0.95", "all", 1),
    ("AR10", 0, "0.50:0.95", "all", 10),
    ("AR100", 0, "0.50:0.95", "all", 100),
    ("AR_small", 0, "0.50:0.95", "small", 100),
    ("AR_medium", 0, "0.50:0.95", "medium", 100),
    ("AR_large", 0, "0.50:0.95", "large", 100),
)

INTERPOLATION = {
    "AP": "COCO (pycocotools): precision envelope sampled at 101 recall points, up to 100 detections per "
          "image and class, all scores (independent of --score)",
    "precision/recall/F1": "counts of the detections scoring above the threshold, matched at --iou; no "
                           "interpolation",
    "errors": "TIDE (tidecv): 101-point AP at --iou, up to 100 detections per image; dAP in AP points",
    "ultralytics": "Ultralytics' mAP50 integrates the envelope with the trapezoid rule over 101 points (np.trapz) "
                   "after its own matching, keeps every detection and has no crowd; under an ultralytics-* "
                   "protocol 'framework' gives its numbers and the computed effect of each rule",
}


def class_keys(names, category_ids) -> list[str]:
    """Category names for the JSON keys, made unique with the id where names repeat."""
    from collections import Counter

    names = list(names)
    seen = Counter(names)  # names.count per name was K² (11 s at 10,000 classes)
    return [n if seen[n] == 1 else f"{n} (id {int(cid)})" for n, cid in zip(names, category_ids)]


def fmt(value: float) -> str:
    return "-" if value < 0 else f"{value:.3f}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print rows with the first column left-aligned and the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        print("  ".join(cells).rstrip())


def print_coco(snap, keys: list[str], source: str, n_images: int, n_gt: int, n_crowd: int, n_det: int) -> None:
    """The human report of an ``EvaluationSnapshot``."""
    coco = snap.coco
    print(f"COCO bbox evaluation of {source}: {n_images} images, {len(keys)} categories, "
          f"{n_gt} GT boxes ({n_crowd} crowd), {n_det} detections")
    for key, is_ap, iou, area, max_dets in STAT_LINES:
        title, kind = ("Average Precision", "(AP)") if is_ap else ("Average Recall", "(AR)")
        print(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = "
              f"{coco.stats[key]:0.3f}")
    c = snap.classes
    ap75 = coco.per_class_ap(iou=0.75)
    n_dt_all = np.bincount(snap.evaluation.dt.category_index, minlength=len(keys))[:len(keys)]
    rows = [(name, fmt(a), fmt(b), fmt(d), str(int(g)), str(int(n)))
            for name, a, b, d, g, n in zip(keys, c.ap, c.ap50, ap75, c.n_gt, n_dt_all)]
    print()
    table(("class", "AP", "AP50", "AP75", "GT", "dets"), rows)
    if (c.ap < 0).any():
        print("(-: the class has no ground truth; it does not count in the means)")
    print()
    best = snap.curves.best_threshold
    print(f"At score > {snap.score_threshold:.3f} (F1-best: {best:.3f}), IoU {snap.iou_threshold:g}; counts, "
          f"no interpolation:")
    rows = [(name, fmt(p) if g else "-", fmt(r), fmt(f), str(int(tp)), str(int(fp)), str(int(fn)))
            for name, p, r, f, tp, fp, fn, g in zip(keys, c.precision, c.recall, c.f1, c.tp, c.fp, c.fn, c.n_gt)]
    mp, mr, mf = snap.curves.at(snap.score_threshold)
    rows.append(("all (mean)", fmt(mp), fmt(mr), fmt(mf), str(int(c.tp.sum())), str(int(c.fp.sum())),
                 str(int(c.fn.sum()))))
    table(("class", "P", "R", "F1", "TP", "FP", "FN"), rows)
    tide = snap.tide
    parts = "  ".join(f"{t} {tide.main_dap[t]:.2f}" for t in ERROR_TYPES)
    print()
    print(f"TIDE errors at IoU {tide.iou_threshold:g} (dAP, AP points; TIDE AP {tide.ap:.2f}): {parts}  |  "
          f"FP {tide.fp_dap:.2f}  FN {tide.fn_dap:.2f}")
    print("Interpolation: AP* and the first table use COCO's 101-point (pycocotools); P / R / F1 count detections "
          "above the threshold; TIDE uses its own 101-point AP.")


def protocol_json(protocol, summary: str | None = None) -> dict | None:
    """The protocol for --json (None when the detections come from a file and no --protocol was given)."""
    if protocol is None:
        return None
    return {**protocol.as_dict(), "summary": summary or protocol.summary()}


def framework_report(gt_boxes, det, num_classes: int, protocol) -> dict | None:
    """The framework's own numbers beside pycocotools': under an ultralytics-* protocol, Ultralytics' mAP50 and
    mAP50-95 and the computed provenance (``ultralytics_metrics.explain``); under torchvision's, a note that its
    reference evaluation is pycocotools; None without a protocol."""
    if protocol is None:
        return None
    if protocol.name.startswith("ultralytics"):
        from detviewer.evaluation.ultralytics_metrics import explain

        return {"name": "Ultralytics", **explain(gt_boxes, det, num_classes).as_dict()}
    return {"name": "torchvision", "sentence": "torchvision's reference evaluation (references/detection/"
            "coco_eval.py) scores with pycocotools itself: its mAP is the AP above, to the bit."}


def print_framework(report: dict | None) -> None:
    """The framework's lines under the COCO report (nothing when ``report`` is None)."""
    if report is None:
        return
    print()
    if "framework" in report:
        own, coco = report["framework"], report["pycocotools"]
        print(f"{report['name']}' own rules (yolo val): mAP50 {own['mAP50']:.3f}  mAP50-95 {own['mAP50-95']:.3f}   "
              f"pycocotools: AP50 {coco['AP50']:.3f}  AP {coco['AP']:.3f}")
    print(report["sentence"])


def coco_json(snap, keys: list[str], extra: dict | None = None) -> str:
    """``{"stats", "per_class", "classes", "operating_point", "errors", "interpolation"}`` (+ ``extra``), -1
    where no GT."""
    coco, c, tide = snap.coco, snap.classes, snap.tide
    ap75 = coco.per_class_ap(iou=0.75)
    classes = {key: {"AP": float(c.ap[k]), "AP50": float(c.ap50[k]), "AP75": float(ap75[k]),
                     "precision": float(c.precision[k]) if c.n_gt[k] else -1.0, "recall": float(c.recall[k]),
                     "f1": float(c.f1[k]), "tp": int(c.tp[k]), "fp": int(c.fp[k]), "fn": int(c.fn[k]),
                     "gt": int(c.n_gt[k]), "detections": int(c.n_det[k])} for k, key in enumerate(keys)}
    mp, mr, mf = snap.curves.at(snap.score_threshold)
    out = {
        "stats": {k: float(v) for k, v in coco.stats.items()},
        "per_class": {key: float(v) for key, v in zip(keys, c.ap)},
        "classes": classes,
        "operating_point": {"score": snap.score_threshold, "iou": snap.iou_threshold,
                            "f1_best_score": snap.curves.best_threshold, "precision": mp, "recall": mr, "f1": mf},
        "errors": {"iou": tide.iou_threshold, "ap": tide.ap, "dAP": {t: tide.main_dap[t] for t in ERROR_TYPES},
                   "fp_dAP": tide.fp_dap, "fn_dAP": tide.fn_dap, "counts": tide.counts},
        "interpolation": INTERPOLATION,
        **(extra or {}),
    }
    return json.dumps(out, indent=2)
