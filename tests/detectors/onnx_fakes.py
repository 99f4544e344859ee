"""Tiny YOLO-layout ONNX files for tests: a graph whose output is a fixed tensor with chosen predictions.

Exported with torch.onnx (no network, no Ultralytics); class names go into the metadata as Ultralytics
writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class _Fixed(torch.nn.Module):
    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out + 0.0 * images.mean()


def level_sizes(input_hw, strides=(8, 16, 32)) -> list[tuple[int, int, int]]:
    h, w = input_hw
    return [(s, h // s, w // s) for s in strides]


def prediction_index(input_hw, level: int, col: int, row: int, anchor: int = 0, anchors: int = 1) -> int:
    """Flat index of a prediction in the exported order (levels, then anchor, then row-major cells)."""
    sizes = level_sizes(input_hw)
    start = sum(r * c * anchors for _, r, c in sizes[:level])
    _, rows, cols = sizes[level]
    return start + anchor * rows * cols + row * cols + col


def export_yolo(path: Path, layout: str, predictions, num_classes: int = 3, input_hw=(320, 320),
                names: dict | None = None) -> Path:
    """predictions: (index, (cx, cy, w, h) input pixels, class, score) rows; every other row scores 0.

    layout "v8": output (1, 4 + C, N); "v5": (1, N, 5 + C) with objectness = score, class prob 1.
    """
    anchors = 3 if layout == "v5" else 1
    n = sum(r * c for _, r, c in level_sizes(input_hw)) * anchors
    rows = np.zeros((n, (5 if layout == "v5" else 4) + num_classes), np.float32)
    rows[:, 2:4] = 10.0  # harmless small boxes everywhere
    for index, box, cls, score in predictions:
        rows[index, :4] = box
        if layout == "v5":
            rows[index, 4] = score
            rows[index, 5 + cls] = 1.0
        else:
            rows[index, 4 + cls] = score
    out = rows.T[None] if layout == "v8" else rows[None]
    model = _Fixed(torch.from_numpy(np.ascontiguousarray(out)))
    torch.onnx.export(model, torch.zeros(1, 3, *input_hw), str(path), input_names=["images"], output_names=["output0"],
                      dynamo=False)
    if names is not None:
        import onnx

        proto = onnx.load(str(path))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "names", repr(names)
        onnx.save(proto, str(path))
    return Path(path)
