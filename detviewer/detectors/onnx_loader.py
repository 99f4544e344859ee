"""The registry's loader for YOLO ONNX exports (onnxruntime, not torch, decides where they run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.detectors.onnx_yolo import load_onnx_yolo

if TYPE_CHECKING:
    from detviewer.detectors.base import Detector, ProgressCallback
    from detviewer.detectors.registry import ModelInfo

__all__ = ["load"]


def load(info: ModelInfo, weights: str, device: str, progress: ProgressCallback | None = None) -> Detector:
    """``weights``: the .onnx file."""
    if progress is not None:
        progress(None, f"Opening {Path(weights).name} with onnxruntime…")
    return load_onnx_yolo(weights, device)
