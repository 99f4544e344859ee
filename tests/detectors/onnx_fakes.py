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


def add_metadata(path: Path, metadata: dict) -> Path:
    """Write ``metadata`` into the file's metadata_props as Ultralytics does (values as their Python repr)."""
    import onnx

    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else repr(value)
    onnx.save(proto, str(path))
    return Path(path)


def export_final(path: Path, rows, max_det: int = 300, input_hw=(320, 320), metadata: dict | None = None) -> Path:
    """An export whose output is (1, max_det, 6) final rows x1, y1, x2, y2, score, class (input pixels), zero-padded.

    rows: (x1, y1, x2, y2, score, class) tuples, best first, as Ultralytics' nms=True and end-to-end exports give.
    """
    out = np.zeros((1, max_det, 6), np.float32)
    if len(rows):
        out[0, : len(rows)] = np.asarray(rows, np.float32)
    model = _Fixed(torch.from_numpy(out))
    torch.onnx.export(model, torch.zeros(1, 3, *input_hw), str(path), input_names=["images"], output_names=["output0"],
                      dynamo=False)
    return add_metadata(path, metadata) if metadata else Path(path)


class _PooledHead(torch.nn.Module):
    """A dynamic-shape anchor-free 'YOLO': one prediction per cell of strides 8, 16, 32.

    Each cell predicts a box of its own size centred on it; class c's score is the cell's mean of colour
    channel c (0..1), so a red square is found as class 0 in the cells it covers.
    """

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rows = []
        for stride in (8, 16, 32):
            pooled = torch.nn.functional.avg_pool2d(images, stride)  # (1, 3, h, w)
            h, w = pooled.shape[2], pooled.shape[3]
            ys = (torch.arange(h, dtype=torch.float32) + 0.5) * stride
            xs = (torch.arange(w, dtype=torch.float32) + 0.5) * stride
            cy, cx = torch.meshgrid(ys, xs, indexing="ij")
            size = torch.full_like(cx, float(stride))
            boxes = torch.stack([cx, cy, size, size]).reshape(1, 4, -1)
            rows.append(torch.cat([boxes, pooled.reshape(1, 3, -1)], dim=1))
        return torch.cat(rows, dim=2)  # (1, 4 + 3, N)


def export_pooled_dynamic(path: Path, imgsz=(320, 320), names: dict | None = None) -> Path:
    """The pooled 'YOLO' exported with dynamic batch, height and width (as Ultralytics' dynamic=True), imgsz metadata."""
    torch.onnx.export(_PooledHead(), torch.zeros(1, 3, *imgsz), str(path), input_names=["images"],
                      output_names=["output0"], dynamo=False,
                      dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                    "output0": {0: "batch", 2: "anchors"}})
    metadata = {"imgsz": list(imgsz), "stride": 32, "args": {"nms": None, "dynamic": True}}
    if names is not None:
        metadata["names"] = names
    return add_metadata(path, metadata)
