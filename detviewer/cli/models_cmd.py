"""`detviewer models`: the detectors, what each can show, and whether its weights are here."""

from __future__ import annotations

import argparse

from detviewer.detectors.registry import ModelInfo, available_models

_SHOWS = {"anchors": "anchors", "proposals": "RPN proposals", "default_boxes": "default boxes", "grid": "grid cells",
          "yolo_cells": "stride level and cell of each box", "classic": "image pyramid, raw windows, grouping",
          "svm_margins": "a linear SVM's margin for every window"}


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description="List the detectors detviewer can load.")


def _weights_status(info: ModelInfo) -> str:
    if info.default_weights == "file":
        return "your file"
    if info.default_weights == "opencv":
        return "in OpenCV"
    if info.default_weights == "shipped":
        from detviewer.detectors.demo import shipped_checkpoint

        path = shipped_checkpoint(info.name)
        return "shipped" if path is not None and path.is_file() else "missing"
    from detviewer.detectors.torchvision_models import coco_weights
    from detviewer.detectors.weights import cache_path

    return "cached" if cache_path(coco_weights(info.name).url).is_file() else "download"


def run(args: argparse.Namespace) -> int:
    rows = [("model", "shows", "weights", "description")]
    for info in available_models():
        shows = ", ".join(_SHOWS[c] for c in sorted(info.capabilities))
        rows.append((info.name, shows, _weights_status(info), info.description))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    print("\nweights: shipped = bundled with detviewer, cached = downloaded already, "
          "download = fetched on first use (needs network once),\n"
          "your file = pass an exported model with --weights FILE, in OpenCV = the classifier OpenCV's wheel ships.")
    return 0
