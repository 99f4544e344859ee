"""``detviewer compare``: two predictions on one dataset, A / B, and the images B got worse on.

    detviewer compare --gt GT A B [--score T] [--score-b T] [--iou I] [--sort ap|net] [--top N]
                      [--plots DIR] [--json] [--bootstrap N] [--seed S] [--weights-a W] [--weights-b W]
                      [--cache DIR | --no-cache]

A and B are each a COCO results .json (any engine's) or a model (a registry name or an .onnx export) that is
run over the dataset through the prediction store, so comparing a checkpoint with the previous one
re-runs only the new one. GT is a COCO .json, an Ultralytics data.yaml or a YOLO / VOC folder. Prints the
per-class Δ table (AP, AP50, recall at each side's score) with a paired bootstrap 95 % interval of ΔAP and ΔAP50
(``--bootstrap N`` resamples of the images, 1,000 by default, 0 to skip; ``--seed``), both TIDE error breakdowns,
the objects B fixed (found, A missed) and broke (A found, B missed), and the images B got worse on;
``--json`` prints all of it as JSON, every such object included.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from detviewer.cli.dataset_run import add_run_arguments
from detviewer.errors import DetviewerError

MAX_RESAMPLES = 100_000  # (resamples, classes) Δ arrays stay small; 1,000 is the usual number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Compare two predictions (results files or model runs) on one dataset: per-class Δ, both "
                    "error breakdowns, the images B got worse on.")
    parser.add_argument("--gt", required=True, metavar="GT",
                        help="ground truth: COCO .json, data.yaml, or a YOLO / VOC folder")
    parser.add_argument("a", metavar="A", help="COCO results .json, or a model name / .onnx file to run")
    parser.add_argument("b", metavar="B", help="the same for B (the newer checkpoint)")
    parser.add_argument("--weights-a", default="default", help="weights of model A: default, coco, none or a file")
    parser.add_argument("--weights-b", default="default", help="weights of model B")
    parser.add_argument("--score", type=float, help="score threshold of A (default: its F1-best one)")
    parser.add_argument("--score-b", type=float, help="score threshold of B (default: --score, else its F1-best)")
    parser.add_argument("--iou", type=float, default=0.5, help="matching IoU (default 0.5)")
    parser.add_argument("--sort", choices=("ap", "net"), default="ap",
                        help="rank images by Δ per-image AP (default) or by Δ(TP - FP - FN)")
    parser.add_argument("--top", type=int, default=10, help="how many of the worst-regressed images to list")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write the Δ and error-breakdown charts here")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="resamples of the images for the paired 95%% interval of ΔAP (default 1000; 0: skip)")
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's random seed (default 0)")
    parser.add_argument("--device", default="auto", help="for models: auto, cpu or cuda")
    parser.add_argument("--threads", type=int, help="torch threads for models, and the bootstrap's (default: cores - 1)")
    parser.add_argument("--cache", type=Path, help="for models: the prediction store's folder "
                                                   "(default: $DETVIEWER_CACHE or ~/.cache/detviewer)")
    parser.add_argument("--no-cache", action="store_true", help="for models: neither read nor write the store")
    add_run_arguments(parser)
    parser.add_argument("--protocol", metavar="NAME",
                        help="for models: evaluation protocol (ultralytics-val, ultralytics-predict, "
                             "torchvision-reference, detviewer-demo; default: each model's own framework's)")
    return parser


def run(args: argparse.Namespace) -> int:
    if not 0 < args.iou <= 1:
        raise DetviewerError("--iou must lie in (0, 1] (see 'detviewer compare --help').")
    if args.top < 0:
        raise DetviewerError("--top must be 0 or more.")
    if not 0 <= args.bootstrap <= MAX_RESAMPLES:
        raise DetviewerError(f"--bootstrap must be 0 (no interval) or a number of resamples up to {MAX_RESAMPLES:,}.")
    from detviewer.cli.compare_report import compare_json, print_comparison
    from detviewer.evaluation.compare import Comparison
    from detviewer.io.datasets import open_dataset

    dataset = open_dataset(args.gt)
    _warn(dataset.warnings)
    pred_a = _predictions(args.a, args.weights_a, dataset, args)
    pred_b = _predictions(args.b, args.weights_b, dataset, args)
    comparison = Comparison.from_dataset(dataset, pred_a, pred_b, names=_names(pred_a.source, pred_b.source))
    best_a, best_b = comparison.best_thresholds(args.iou)
    score_a = args.score if args.score is not None else best_a
    score_b = args.score_b if args.score_b is not None else (args.score if args.score is not None else best_b)
    snap = comparison.at(score_a, score_b, args.iou)
    bootstrap = None
    if args.bootstrap > 0 and dataset.num_images > 0:
        started = time.perf_counter()
        bootstrap = comparison.bootstrap(args.bootstrap, args.seed, args.threads)
        print(f"paired bootstrap: {args.bootstrap} resamples of the {dataset.num_images} images in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    if args.plots:
        from detviewer.charts.compare import export_compare_plots

        written = export_compare_plots(snap, args.plots)
        print(f"wrote {len(written)} plots to {args.plots}", file=sys.stderr)
    if args.json:
        print(compare_json(snap, dataset, args.sort, args.top, bootstrap))
    else:
        print_comparison(snap, dataset, (len(pred_a), len(pred_b)), args.sort, args.top,
                         defaults=(args.score is None, args.score_b is None and args.score is None),
                         bootstrap=bootstrap)
    return 0


def _warn(lines) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _names(a: str, b: str) -> tuple[str, str]:
    """Short labels for the two sides: file or model names, told apart by A / B when they are the same."""
    a, b = Path(a).name if a.endswith(".json") else a, Path(b).name if b.endswith(".json") else b
    return (f"A ({a})", f"B ({b})") if a == b else (a, b)


def _predictions(spec: str, weights: str, dataset, args):
    """A side's Predictions: a results file read onto the dataset, or a model run over it."""
    if spec.lower().endswith(".json"):
        from detviewer.io.predictions import load_predictions

        predictions = load_predictions(spec, dataset)
        _warn(predictions.warnings)
        return predictions
    from detviewer.detectors.registry import is_onnx_path, model_info

    if not is_onnx_path(spec):
        try:
            model_info(spec)
        except DetviewerError:
            raise DetviewerError(f"{spec} is neither a COCO results .json nor a model detviewer knows "
                                 f"(see 'detviewer models').") from None
    return _run_model(spec, weights, dataset, args)


def _run_model(name: str, weights: str, dataset, args):
    from detviewer.cli.dataset_run import run_model_over
    from detviewer.detectors.registry import load_detector
    from detviewer.detectors.threads import configure_torch_threads
    from detviewer.evaluation.protocols import get_protocol, protocol_for
    from detviewer.io.prediction_store import PredictionStore

    threads = configure_torch_threads(args.threads)
    detector = load_detector(name, weights=weights, device=args.device)
    protocol = get_protocol(args.protocol) if args.protocol else protocol_for(detector)
    print(f"{name}: {protocol.summary(detector)}", file=sys.stderr)
    try:
        store = None if args.no_cache else PredictionStore.open(args.cache)
        result = run_model_over(detector, name, weights, dataset, store, args, protocol=protocol)
    finally:
        detector.close()
    said = vars(args).setdefault("_store_warnings", set())  # both sides share the store: its problem is said once
    _warn([w for w in result.warnings if w not in said])
    said.update(result.warnings)
    for _, sentence in result.failures:
        print(f"error: {sentence}", file=sys.stderr)
    label = name if weights in ("default", "coco") else f"{name} ({Path(weights).name})"
    print(f"ran {label} on {dataset.num_images} images in {result.seconds:.1f} s ({result.cached} from the cache, "
          f"{threads} torch thread{'s' if threads != 1 else ''})", file=sys.stderr)
    return replace(result.predictions, source=label)
