"""``detviewer anchors``: can this model's anchors reach the dataset's objects?

    detviewer anchors --model M [--weights W] --gt GT [--plots DIR] [--json] [--no-suggest] [--seed S]

For every object of GT (a COCO .json, an Ultralytics data.yaml or a YOLO / VOC folder), the best IoU over the
model's own anchors at that image's input size; the share under the model's positive threshold, per class and
per size; and anchors from k-means on the objects (1 - IoU, YOLOv2) in the model's generator layout, with the
coverage they would give. Image sizes come from the COCO file, else from the image headers. Anchors do not
depend on the weights, so ``--weights`` defaults to none (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.errors import DetviewerError

if TYPE_CHECKING:
    import numpy as np

    from detviewer.evaluation.anchor_suggestion import AnchorSuggestion
    from detviewer.evaluation.coverage import AnchorCoverage
    from detviewer.io.dataset_types import Dataset
    from detviewer.ops.model_anchors import TorchvisionAnchors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Anchor coverage: the best IoU of every ground-truth object over the model's own anchors at its "
                    "input size, the share under the model's positive threshold, and a measured k-means suggestion.")
    parser.add_argument("--model", required=True, help="a torchvision Faster R-CNN / RetinaNet / SSD or demo model")
    parser.add_argument("--weights", default="none",
                        help="none (default: anchors do not depend on the weights), default, coco or a checkpoint")
    parser.add_argument("--gt", required=True, metavar="GT",
                        help="ground truth: COCO .json, data.yaml, or a YOLO / VOC folder")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write the best-IoU histogram and the object "
                                                                  "shapes over the anchors here")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--no-suggest", action="store_true", help="skip the k-means suggestion")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")
    return parser


def run(args: argparse.Namespace) -> int:
    from detviewer.cli.anchors_report import coverage_json, print_coverage
    from detviewer.cli.progress import ProgressLine
    from detviewer.detectors.anchor_source import anchor_source
    from detviewer.detectors.registry import load_detector
    from detviewer.evaluation.coverage import anchor_coverage
    from detviewer.io.datasets import open_dataset
    from detviewer.io.image_sizes import dataset_image_sizes

    dataset = open_dataset(args.gt)
    _warn(dataset.warnings)
    detector = load_detector(args.model, weights=args.weights, device="cpu")
    source = anchor_source(detector)
    start = time.perf_counter()
    bar = ProgressLine("image sizes")
    image_hw, warnings = dataset_image_sizes(dataset, bar)
    bar.close()
    _warn(warnings)
    bar = ProgressLine("objects")
    coverage = anchor_coverage(source, dataset.boxes, image_hw, dataset.class_names, bar)
    bar.close()
    _warn(coverage.skipped)
    if not len(coverage):
        raise DetviewerError(f"{dataset.source.name} has no object whose anchor coverage could be measured.")
    suggestion = None
    if not args.no_suggest:
        suggestion = _suggest(source, coverage, dataset, image_hw, args.seed)
    seconds = time.perf_counter() - start
    if args.plots:
        from detviewer.charts.coverage import export_coverage_plots

        written = export_coverage_plots(coverage, args.plots, suggestion)
        print(f"wrote {len(written)} plots to {args.plots}", file=sys.stderr)
    print(f"measured in {seconds:.2f} s", file=sys.stderr)
    if args.json:
        print(coverage_json(coverage, dataset, source, suggestion))
    else:
        print_coverage(coverage, dataset, source, suggestion)
    return 0


def _suggest(source: TorchvisionAnchors, coverage: AnchorCoverage, dataset: Dataset, image_hw: np.ndarray,
             seed: int) -> AnchorSuggestion | None:
    from detviewer.cli.progress import ProgressLine
    from detviewer.evaluation.anchor_suggestion import suggest_anchors

    bar = ProgressLine("objects (suggested anchors)")
    try:
        return suggest_anchors(source, coverage, dataset.boxes, image_hw, bar, seed=seed)
    except DetviewerError as exc:
        print(f"note: no suggestion: {exc}", file=sys.stderr)
        return None
    finally:
        bar.close()


def _warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)
