"""What ``detviewer anchors`` prints: the coverage, per class and per size bucket, and the measured suggestion;
and the same as JSON (with every object under the threshold, lowest best IoU first)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from detviewer.cli.eval_report import class_keys, table

if TYPE_CHECKING:
    from detviewer.evaluation.anchor_suggestion import AnchorSuggestion
    from detviewer.evaluation.coverage import AnchorCoverage, CoverageTable
    from detviewer.io.dataset_types import Dataset
    from detviewer.ops.model_anchors import TorchvisionAnchors

__all__ = ["print_coverage", "coverage_json"]


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f}%"


def _iou(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.3f}"


def _rows(cov_table: CoverageTable) -> list[tuple[str, ...]]:
    return [(name, str(int(n)), str(int(b)), _pct(s), _iou(m))
            for name, n, b, s, m in zip(cov_table.names, cov_table.n, cov_table.below, cov_table.share_below,
                                        cov_table.mean_iou)]


def _summary(cov: AnchorCoverage) -> str:
    return (f"{_pct(cov.share_below)} ({int(cov.below.sum())} of {len(cov)}) below {cov.positive_iou:g}, "
            f"mean best IoU {_iou(float(cov.best_iou.mean()))}, median {_iou(float(np.median(cov.best_iou)))}")


def print_coverage(cov: AnchorCoverage, dataset: Dataset, source: TorchvisionAnchors,
                   suggestion: AnchorSuggestion | None = None) -> None:
    """The human report of an ``AnchorCoverage`` (and an ``AnchorSuggestion``)."""
    print(f"{cov.model} on {dataset.summary()}")
    print(f"{cov.rule}.")
    sizes = ", ".join(f"{w}x{h} ({n} objects)" for (h, w), n in cov.input_sizes[:6])
    more = f" and {len(cov.input_sizes) - 6} more" if len(cov.input_sizes) > 6 else ""
    print(f"Input sizes (w x h): {sizes}{more}")
    print(f"Anchors: {source.describe()}")
    print()
    print(f"Best anchor IoU per object: {_summary(cov)}")
    header = ("objects", "below", "share", "mean IoU")
    table(("class",) + header, _rows(cov.by_class()))
    print()
    table(("size (area px)",) + header, [(f"{r[0]} ({_bucket(r[0])})",) + r[1:] for r in _rows(cov.by_size())])
    if suggestion is not None:
        new = suggestion.coverage
        h, w = suggestion.input_hw
        print()
        print(f"Suggestion: k-means on the objects' shapes (1 - IoU, YOLOv2) per level, each object on the level "
              f"nearest its size; mean IoU with the nearest shape {suggestion.mean_iou:.3f}; shapes (w x h at "
              f"{w}x{h}):")
        for level, (shapes, n) in enumerate(zip(suggestion.prototypes, suggestion.level_objects)):
            listed = "kept (fewer objects than shapes)" if shapes is None else \
                ", ".join(f"{pw:.0f}x{ph:.0f}" for pw, ph in shapes)
            print(f"  level {level} ({int(n)} objects): {listed}")
        print(f"  {suggestion.description}")
        print(f"  would give: {_summary(new)}")
        print(f"  today:      {_summary(cov)}")
        if new.share_below >= cov.share_below:
            print("  (the k-means anchors cover no more objects than today's: keep today's)")
    print("(best IoU in model-input pixels, at each image's input size; size buckets by box area in image pixels, "
          "COCO's 32² and 96²)")


def _bucket(name: str) -> str:
    return {"small": "< 32²", "medium": "32²-96²", "large": ">= 96²"}[name]


def _table_json(cov_table: CoverageTable, keys: Sequence[str] | None = None) -> dict:
    keys = keys or cov_table.names
    return {key: {"objects": int(n), "below": int(b), "share_below": None if not math.isfinite(s) else float(s),
                  "mean_iou": None if not math.isfinite(m) else float(m)}
            for key, n, b, s, m in zip(keys, cov_table.n, cov_table.below, cov_table.share_below, cov_table.mean_iou)}


def _coverage_numbers(cov: AnchorCoverage) -> dict:
    return {"objects": len(cov), "below": int(cov.below.sum()), "share_below": cov.share_below,
            "mean_iou": float(cov.best_iou.mean()), "median_iou": float(np.median(cov.best_iou))}


def coverage_json(cov: AnchorCoverage, dataset: Dataset, source: TorchvisionAnchors,
                  suggestion: AnchorSuggestion | None = None) -> str:
    """``{"model", "rule", "positive_iou", "anchors", "input_sizes", coverage numbers, "classes", "sizes",
    "uncovered", "skipped", "suggestion"}``; uncovered: every object under the threshold, lowest IoU first."""
    boxes, keys = dataset.boxes, class_keys(dataset.class_names, dataset.gt.category_ids)
    position = {int(g): i for i, g in enumerate(cov.gt_index.tolist())}
    uncovered = []
    for g in cov.uncovered().tolist():
        i = position[g]
        uncovered.append({"gt_id": int(boxes.ids[g]), "image_id": int(dataset.gt.image_ids[boxes.image_index[g]]),
                          "file_name": dataset.gt.file_names[boxes.image_index[g]],
                          "category": dataset.class_names[int(boxes.category_index[g])],
                          "bbox": [float(v) for v in boxes.xywh[g]], "best_iou": float(cov.best_iou[i]),
                          "best_level": int(cov.best_level[i])})
    out = {"model": cov.model, "rule": cov.rule, "positive_iou": cov.positive_iou, "anchors": source.describe(),
           "input_sizes": [{"height": h, "width": w, "objects": n} for (h, w), n in cov.input_sizes],
           **_coverage_numbers(cov), "classes": _table_json(cov.by_class(), keys), "sizes": _table_json(cov.by_size()),
           "uncovered": uncovered, "skipped": list(cov.skipped), "suggestion": None}
    if suggestion is not None:
        out["suggestion"] = {"anchors": suggestion.description, "kmeans_mean_iou": suggestion.mean_iou,
                             "level_objects": suggestion.level_objects.tolist(),
                             "prototypes_wh": [None if p is None else p.round(2).tolist()
                                               for p in suggestion.prototypes],
                             "input_size": list(suggestion.input_hw), **_coverage_numbers(suggestion.coverage),
                             "classes": _table_json(suggestion.coverage.by_class(), keys)}
    return json.dumps(out, indent=2)
