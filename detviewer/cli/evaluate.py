"""``detviewer eval``: evaluate a results file, or run a model over a dataset and evaluate it.

    detviewer eval --gt GT --pred PRED.json [--json] [--plots DIR] [--score T] [--iou I] [--metric coco|voc07|voc]
    detviewer eval --model M [--weights W] --data data.yaml|DIR [--protocol P] [--cache DIR | --no-cache] ...

GT (and --data) is a COCO .json, an Ultralytics data.yaml or a dataset folder (YOLO labels/, VOC
Annotations/). COCO prints pycocotools' 12 summary lines (same numbers, to the bit), the per-class AP
table, precision / recall / F1 per class at ``--score`` (default: the F1-best threshold) matched at
``--iou``, and TIDE's error breakdown; ``--json`` prints all of it as JSON (``stats`` and ``per_class``
as before, plus ``classes``, ``operating_point``, ``errors``). ``--plots DIR`` writes the PR / F1
curves, the confusion matrix and the error breakdown as PNGs. VOC prints AP@0.5 per class and its mean.
Without --plots and --model only numpy is imported (no torch, no Qt), so the command starts fast.

A model runs under its own framework's validation protocol (``evaluation.protocols``: Ultralytics exports as
``yolo val`` runs them, torchvision and demo models with their own thresholds) unless ``--protocol`` names
another; the protocol is one line on stderr and ``protocol`` in --json. Under an Ultralytics protocol the report
adds Ultralytics' own mAP50 / mAP50-95 (``evaluation.ultralytics_metrics``) and one sentence saying which rule
makes them differ from pycocotools' and by how much (``framework`` in --json).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.cli.dataset_run import add_run_arguments
from detviewer.cli.eval_report import (
    class_keys,
    coco_json,
    fmt,
    framework_report,
    print_coco,
    print_framework,
    protocol_json,
    table,
)

if TYPE_CHECKING:
    from detviewer.core.metrics import DetectionBoxes
    from detviewer.evaluation.protocols import Protocol
    from detviewer.io.annotations import CocoGroundTruth
    from detviewer.io.dataset_types import Dataset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate detection results (or a model run over a dataset) against ground truth: "
                    "pycocotools' numbers, per-class P/R/F1, TIDE errors, plots.")
    parser.add_argument("--gt", metavar="GT", help="ground truth: COCO .json, data.yaml, or a YOLO / VOC folder")
    parser.add_argument("--data", metavar="DATA", help="the dataset to run --model on (same forms as --gt)")
    parser.add_argument("--pred", metavar="PRED.json",
                        help="COCO results file: a list of {image_id, category_id, bbox [x,y,w,h], score}")
    parser.add_argument("--model", help="run this detector over the dataset first (see 'detviewer models')")
    parser.add_argument("--weights", default="default", help="with --model: coco, none, default or a file")
    parser.add_argument("--device", default="auto", help="with --model: auto, cpu or cuda")
    parser.add_argument("--threads", type=int, help="with --model: torch threads (default: cores - 1)")
    parser.add_argument("--cache", type=Path, help="with --model: the prediction store's folder "
                                                   "(default: $DETVIEWER_CACHE or ~/.cache/detviewer)")
    parser.add_argument("--no-cache", action="store_true", help="with --model: neither read nor write the store")
    add_run_arguments(parser)
    parser.add_argument("--save-pred", type=Path, help="with --model: also write the detections as COCO results")
    parser.add_argument("--protocol", metavar="NAME",
                        help="evaluation protocol: ultralytics-val, ultralytics-predict, torchvision-reference or "
                             "detviewer-demo (default with --model: the model's own framework's; with --pred: "
                             "an ultralytics-* name adds Ultralytics' own mAP beside pycocotools')")
    parser.add_argument("--metric", choices=("coco", "voc07", "voc"), default="coco",
                        help="coco: AP@[.5:.95] and friends (default); voc07: VOC2007 11-point AP@0.5; "
                             "voc: VOC2010+ all-point AP@0.5 (crowd/difficult GT ignored)")
    parser.add_argument("--score", type=float, help="score threshold for P / R / F1 and the confusion matrix "
                                                    "(default: the F1-best one)")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for P / R / F1, confusion matrix, TIDE")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write PR / F1 curves, confusion matrix and "
                                                                  "error breakdown PNGs here")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.pred:
        _usage_error("one of --pred or --model is required")
    if args.model and not (args.data or args.gt):
        _usage_error("--model needs --data (the dataset to run it on)")
    if not args.model and not args.gt:
        _usage_error("--pred needs --gt")
    if not 0 < args.iou <= 1:
        _usage_error("--iou must lie in (0, 1]")
    protocol = _named_protocol(args.protocol)
    if args.model:
        gt, det, n_images, source, (protocol, summary) = _run_model(args, protocol)
    else:
        gt, det, n_images, source = _load(args)
        summary = protocol.summary() if protocol is not None else None
    if args.metric != "coco":
        return _run_voc(gt, det, n_images, source, args.json, use_07_metric=args.metric == "voc07")
    if (gt.boxes.ids == 0).any():
        print(f"note: {gt.source} has an annotation with id 0; like pycocotools, detections matched "
              f"to it count as false positives.", file=sys.stderr)
    from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

    ev = DatasetEvaluation(gt.boxes, det, n_images, gt.category_names)
    score = args.score if args.score is not None else ev.curves(args.iou).best_threshold
    snap = ev.at(score, args.iou)
    keys = class_keys(gt.category_names, gt.category_ids)
    if args.plots:
        from detviewer.charts.export import export_evaluation_plots

        written = export_evaluation_plots(snap, keys, args.plots)
        print(f"wrote {len(written)} plots to {args.plots}", file=sys.stderr)
    framework = framework_report(gt.boxes, det, gt.num_categories, protocol)
    if args.json:
        print(coco_json(snap, keys, {"protocol": protocol_json(protocol, summary), "framework": framework}))
        return 0
    print_coco(snap, keys, source, n_images, len(gt.boxes), int(gt.boxes.crowd.sum()), len(det))
    print_framework(framework)
    return 0


def _named_protocol(name: str | None):
    if name is None:
        return None
    from detviewer.evaluation.protocols import get_protocol

    return get_protocol(name)


def _usage_error(message: str):
    from detviewer.errors import DetviewerError

    raise DetviewerError(f"{message} (see 'detviewer eval --help').")


def _load(args: argparse.Namespace) -> tuple[CocoGroundTruth, DetectionBoxes, int, str]:
    """(CocoGroundTruth, DetectionBoxes, number of images, source) of --gt and --pred."""
    from detviewer.io.annotations import load_coco_gt
    from detviewer.io.coco_results import load_coco_results

    if Path(args.gt).suffix.lower() == ".json":  # COCO: strict, as pycocotools reads it
        gt = load_coco_gt(args.gt)
        results = load_coco_results(args.pred, gt)
        _warn(results.notes)
        return gt, results.boxes, gt.num_images, results.source
    from detviewer.io.datasets import open_dataset
    from detviewer.io.predictions import load_predictions

    dataset = open_dataset(args.gt)
    _warn(dataset.warnings)
    predictions = load_predictions(args.pred, dataset)
    _warn(predictions.warnings)
    return dataset.gt, predictions.boxes, dataset.num_images, predictions.source


def _warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _run_model(args: argparse.Namespace, protocol: Protocol | None = None
               ) -> tuple[CocoGroundTruth, DetectionBoxes, int, str, tuple[Protocol, str]]:
    """Run --model over --data under ``protocol`` (default: the model's own framework's) with progress on
    stderr; (gt, detections, images, source, (protocol, its one-line summary))."""
    from detviewer.cli.dataset_run import run_model_over
    from detviewer.detectors.registry import load_detector
    from detviewer.detectors.threads import configure_torch_threads
    from detviewer.evaluation.protocols import protocol_for
    from detviewer.io.datasets import open_dataset
    from detviewer.io.prediction_store import PredictionStore

    dataset = open_dataset(args.data or args.gt)
    _warn(dataset.warnings)
    threads = configure_torch_threads(args.threads)
    detector = load_detector(args.model, weights=args.weights, device=args.device)
    store = None if args.no_cache else PredictionStore.open(args.cache)
    protocol = protocol or protocol_for(detector)
    summary = protocol.summary(detector)
    print(summary, file=sys.stderr)
    run = run_model_over(detector, args.model, args.weights, dataset, store, args, protocol=protocol)
    _warn(run.warnings)
    for _, sentence in run.failures:
        print(f"error: {sentence}", file=sys.stderr)
    print(f"ran {args.model} on {dataset.num_images} images in {run.seconds:.1f} s ({run.cached} from the cache, "
          f"{run.images_per_second:.2f} images/s computed, {threads} torch thread{'s' if threads != 1 else ''})",
          file=sys.stderr)
    if args.save_pred:
        _save_predictions(args.save_pred, dataset, run.predictions.boxes)
    return dataset.gt, run.predictions.boxes, dataset.num_images, f"{args.model} on {dataset.source}", (protocol, summary)


def _save_predictions(path: Path, dataset: Dataset, boxes: DetectionBoxes) -> None:
    rows = [{"image_id": int(dataset.gt.image_ids[i]), "category_id": int(dataset.gt.category_ids[c]),
             "bbox": [float(v) for v in b], "score": float(s)}
            for i, c, b, s in zip(boxes.image_index.tolist(), boxes.category_index.tolist(), boxes.xywh, boxes.scores)]
    from detviewer.io.atomic import write_text

    write_text(path, json.dumps(rows))
    print(f"wrote {len(rows)} detections to {path}", file=sys.stderr)


def _run_voc(gt: CocoGroundTruth, det: DetectionBoxes, n_images: int, source: str, as_json: bool,
             use_07_metric: bool) -> int:
    import numpy as np

    from detviewer.core.voc_eval import evaluate_voc

    ev = evaluate_voc(gt.boxes, det, n_images, gt.num_categories, use_07_metric=use_07_metric)
    keys = class_keys(gt.category_names, gt.category_ids)
    if as_json:
        per_class = {key: float(v) for key, v in zip(keys, ev.ap)}
        print(json.dumps({"stats": {"mAP": ev.mean_ap}, "per_class": per_class}, indent=2))
        return 0
    how = "11-point (VOC2007)" if use_07_metric else "all-point (VOC2010+)"
    k = gt.num_categories
    n_gt = np.bincount(gt.boxes.category_index[~gt.boxes.difficult], minlength=k)
    n_dt = np.bincount(det.category_index, minlength=k)
    print(f"PASCAL VOC AP@{ev.iou_threshold:g}, {how}, of {source}: {n_images} images, "
          f"{k} categories, {int(n_gt.sum())} GT boxes (+{int(gt.boxes.difficult.sum())} difficult/crowd, "
          f"ignored), {len(det)} detections")
    print()
    rows = [(name, fmt(a), str(int(g)), str(int(d))) for name, a, g, d in zip(keys, ev.ap, n_gt, n_dt)]
    rows.append(("mAP", fmt(ev.mean_ap), str(int(n_gt.sum())), str(len(det))))
    table(("class", "AP50", "GT", "dets"), rows)
    if (ev.ap < 0).any():
        print("(-: the class has no ground truth; it does not count in the mean)")
    return 0
