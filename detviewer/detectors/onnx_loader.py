"""The registry's loader for YOLO ONNX exports (onnxruntime, not torch, decides where they run)."""

from __future__ import annotations

from pathlib import Path

from detviewer.detectors.onnx_yolo import load_onnx_yolo

__all__ = ["load"]


def load(info, weights: str, device: str, progress=None):
    """``weights``: the .onnx file."""
    if progress is not None:
        progress(None, f"Opening {Path(weights).name} with onnxruntime…")
    return load_onnx_yolo(weights, device)
