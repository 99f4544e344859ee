"""``detviewer eval``: COCO bbox or PASCAL VOC evaluation of a results file.

    detviewer eval --gt GT.json --pred PRED.json [--json] [--metric coco|voc07|voc]

COCO prints pycocotools' 12 summary lines (same numbers, to the bit) and a per-class
table; VOC prints AP@0.5 per class and its mean. ``--json`` prints
``{"stats": {...}, "per_class": {class_name: AP}}`` instead, -1 where a class has no GT.
Only numpy is imported (no torch), so the command starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate COCO-format detection results against COCO ground truth "
                    "(pycocotools' numbers) or with the PASCAL VOC AP.")
    parser.add_argument("--gt", required=True, metavar="GT.json", help="COCO ground-truth file")
    parser.add_argument("--pred", required=True, metavar="PRED.json",
                        help="COCO results file: a list of {image_id, category_id, bbox [x,y,w,h], score}")
    parser.add_argument("--metric", choices=("coco", "voc07", "voc"), default="coco",
                        help="coco: AP@[.5:.95] and friends (default); voc07: VOC2007 11-point AP@0.5; "
                             "voc: VOC2010+ all-point AP@0.5 (crowd/difficult GT ignored)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    from detviewer.io.annotations import load_coco_gt, load_coco_results

    gt = load_coco_gt(args.gt)
    results = load_coco_results(args.pred, gt)
    if (gt.boxes.ids == 0).any() and args.metric == "coco":
        print(f"note: {gt.source} has an annotation with id 0; like pycocotools, detections matched "
              f"to it count as false positives.", file=sys.stderr)
    if args.metric == "coco":
        return _run_coco(gt, results, args.json)
    return _run_voc(gt, results, args.json, use_07_metric=args.metric == "voc07")


def _class_keys(gt) -> list[str]:
    """Category names for the JSON keys, made unique with the id where names repeat."""
    names = list(gt.category_names)
    seen = {n: names.count(n) for n in names}
    return [n if seen[n] == 1 else f"{n} (id {int(cid)})" for n, cid in zip(names, gt.category_ids)]


def _counts(gt, results):
    import numpy as np

    k = gt.num_categories
    n_gt = np.bincount(gt.boxes.category_index[~gt.boxes.crowd], minlength=k)
    n_dt = np.bincount(results.boxes.category_index, minlength=k)
    return n_gt, n_dt


def _run_coco(gt, results, as_json: bool) -> int:
    from detviewer.core.coco_eval import evaluate_coco

    ev = evaluate_coco(gt.boxes, results.boxes, gt.num_images, gt.num_categories)
    ap = ev.per_class_ap()
    keys = _class_keys(gt)
    if as_json:
        per_class = {key: float(v) for key, v in zip(keys, ap)}
        print(json.dumps({"stats": {k: float(v) for k, v in ev.stats.items()}, "per_class": per_class}, indent=2))
        return 0
    n_crowd = int(gt.boxes.crowd.sum())
    print(f"COCO bbox evaluation of {results.source}: {gt.num_images} images, {gt.num_categories} "
          f"categories, {len(gt.boxes)} GT boxes ({n_crowd} crowd), {len(results)} detections")
    for key, is_ap, iou, area, max_dets in STAT_LINES:
        title, kind = ("Average Precision", "(AP)") if is_ap else ("Average Recall", "(AR)")
        print(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = "
              f"{ev.stats[key]:0.3f}")
    ap50, ap75 = ev.per_class_ap(iou=0.5), ev.per_class_ap(iou=0.75)
    n_gt, n_dt = _counts(gt, results)
    rows = [(name, _fmt(a), _fmt(b), _fmt(c), str(int(g)), str(int(d)))
            for name, a, b, c, g, d in zip(keys, ap, ap50, ap75, n_gt, n_dt)]
    print()
    _table(("class", "AP", "AP50", "AP75", "GT", "dets"), rows)
    if (ap < 0).any():
        print("(-: the class has no ground truth; it does not count in the means)")
    return 0


def _run_voc(gt, results, as_json: bool, use_07_metric: bool) -> int:
    import numpy as np

    from detviewer.core.voc_eval import evaluate_voc

    ev = evaluate_voc(gt.boxes, results.boxes, gt.num_images, gt.num_categories, use_07_metric=use_07_metric)
    keys = _class_keys(gt)
    if as_json:
        per_class = {key: float(v) for key, v in zip(keys, ev.ap)}
        print(json.dumps({"stats": {"mAP": ev.mean_ap}, "per_class": per_class}, indent=2))
        return 0
    how = "11-point (VOC2007)" if use_07_metric else "all-point (VOC2010+)"
    k = gt.num_categories
    n_gt = np.bincount(gt.boxes.category_index[~gt.boxes.difficult], minlength=k)
    n_dt = np.bincount(results.boxes.category_index, minlength=k)
    print(f"PASCAL VOC AP@{ev.iou_threshold:g}, {how}, of {results.source}: {gt.num_images} images, "
          f"{k} categories, {int(n_gt.sum())} GT boxes (+{int(gt.boxes.difficult.sum())} difficult/crowd, "
          f"ignored), {len(results)} detections")
    print()
    rows = [(name, _fmt(a), str(int(g)), str(int(d))) for name, a, g, d in zip(keys, ev.ap, n_gt, n_dt)]
    rows.append(("mAP", _fmt(ev.mean_ap), str(int(n_gt.sum())), str(len(results))))
    _table(("class", "AP50", "GT", "dets"), rows)
    if (ev.ap < 0).any():
        print("(-: the class has no ground truth; it does not count in the mean)")
    return 0


def _fmt(value: float) -> str:
    return "-" if value < 0 else f"{value:.3f}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print rows with the first column left-aligned and the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        print("  ".join(cells).rstrip())
