"""YOLO models exported to ONNX (Ultralytics YOLOv5 / YOLOv8 / YOLO11 layouts), run with onnxruntime.

The exported graph ends before NMS: one row per cell (and anchor) of every head level. Two layouts:

- YOLOv8 / 11 (anchor-free): output (1, 4 + C, N), rows ``cx, cy, w, h`` (input pixels) then C class
  scores; N = sum over levels of rows x cols.
- YOLOv5 (3 anchors per cell): output (1, N, 5 + C), columns ``cx, cy, w, h, objectness`` then C class
  probabilities; N = 3 x sum of rows x cols; a box's score is objectness x class probability.

Within a level predictions are in row-major cell order (YOLOv5: anchor first). The levels' strides
are 8, 16, 32 (64): whichever count of levels adds up to N, so the cell and level of each candidate
(``core.types.YoloCells``) follow from its index. Class names come from the export's metadata
(Ultralytics writes ``names``), else "class 0", "class 1"…; labels are the class indices. NMS is
torchvision's ``batched_nms`` on the candidates in original pixels, clipped to the frame (so a replay
reproduces it; Ultralytics runs NMS before clipping, which can differ for boxes crossing the border),
at each family's own default IoU: 0.7 for v8 / 11, 0.45 for v5.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams, YoloCells
from detviewer.detectors.base import Detector
from detviewer.errors import CheckpointError, DetectorError

__all__ = ["OnnxYoloDetector", "load_onnx_yolo", "output_layout", "head_levels", "cells_of", "letterbox",
           "LETTERBOX_FILL"]

LETTERBOX_FILL = 114  # Ultralytics' grey padding
DEFAULT_NMS = {"v8": NMSParams(iou_threshold=0.7, score_threshold=0.25, class_agnostic=False, max_detections=300),
               "v5": NMSParams(iou_threshold=0.45, score_threshold=0.25, class_agnostic=False, max_detections=300)}
CANDIDATE_FLOOR = 0.05  # candidates kept for the replay reach down to this score (the slider can go lower than 0.25)


def output_layout(shape, num_classes: int | None = None) -> tuple[str, int, int]:
    """('v8' | 'v5', number of classes, predictions N) of an output of shape (1, A, B).

    With ``num_classes`` known (from the metadata) the layout follows from it; otherwise channels
    first (A < B) is YOLOv8's (4 + C, N) and rows first YOLOv5's (N, 5 + C).
    """
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise DetectorError(f"a YOLO detection output has shape (1, channels, boxes), not {tuple(shape)}.")
    _, a, b = shape
    if num_classes is not None:
        for layout, rows, cols, extra in (("v8", a, b, 4), ("v5", b, a, 5), ("v8", b, a, 4)):
            if rows == extra + num_classes:
                if layout == "v8" and rows != a:
                    raise DetectorError("this YOLOv8-style output is transposed (boxes first); export it with "
                                        "Ultralytics' default layout (1, 4 + classes, boxes).")
                return layout, num_classes, cols
        raise DetectorError(f"an output of shape {tuple(shape)} does not hold {num_classes} classes in the "
                            "YOLOv5 (boxes, 5 + classes) or YOLOv8 (4 + classes, boxes) layout.")
    if a < b:
        if a <= 4:
            raise DetectorError(f"an output of shape {tuple(shape)} has no class scores.")
        return "v8", a - 4, b
    if b <= 5:
        raise DetectorError(f"an output of shape {tuple(shape)} has no class scores.")
    return "v5", b - 5, a


def head_levels(input_hw: tuple[int, int], predictions: int, anchors_per_cell: int) -> tuple[tuple[int, int, int], ...]:
    """((stride, rows, cols), ...) for strides 8, 16, 32 (, 64, ...) whose cells x anchors make ``predictions``."""
    h, w = input_hw
    for count in (3, 4, 2, 5):
        levels = tuple((8 << i, -(-h // (8 << i)), -(-w // (8 << i))) for i in range(count))
        if sum(r * c for _, r, c in levels) * anchors_per_cell == predictions:
            return levels
    raise DetectorError(f"{predictions} predictions for a {w}×{h} input do not fit YOLO's stride 8/16/32 levels "
                        f"with {anchors_per_cell} box(es) per cell; is this a YOLO detection export?")


def cells_of(indices: np.ndarray, levels, anchors_per_cell: int):
    """Prediction indices (K,) -> level, col, row, anchor (K,) int64 each (anchor -1 if anchor-free)."""
    indices = np.asarray(indices, np.int64)
    sizes = np.array([r * c * anchors_per_cell for _, r, c in levels], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    level = np.searchsorted(np.cumsum(sizes), indices, side="right")
    local = indices - starts[level]
    cols = np.array([c for _, _, c in levels], np.int64)[level]
    cells = np.array([r * c for _, r, c in levels], np.int64)[level]
    anchor = local // cells if anchors_per_cell > 1 else np.full_like(local, -1)
    within = local % cells
    return level.astype(np.int64), within % cols, within // cols, anchor


def letterbox(image_rgb: np.ndarray, input_hw: tuple[int, int]):
    """Resize keeping the aspect ratio and pad to ``input_hw`` as Ultralytics does.

    Returns (input (1, 3, H, W) float32 0..1, (scale, pad_x, pad_y)) with input = original * scale + pad.
    """
    import cv2

    h0, w0 = image_rgb.shape[:2]
    h, w = input_hw
    scale = min(h / h0, w / w0)
    nw, nh = int(round(w0 * scale)), int(round(h0 * scale))
    pad_x, pad_y = (w - nw) / 2, (h - nh) / 2
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w0, h0) else image_rgb
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    canvas = np.full((h, w, 3), LETTERBOX_FILL, np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    batch = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], np.float32) / 255.0
    return batch, (float(scale), float(left), float(top))


def _metadata_names(meta: dict) -> tuple[str, ...] | None:
    """Class names from Ultralytics' ``names`` metadata ("{0: 'person', ...}"), read as a literal (never run)."""
    text = meta.get("names")
    if not text:
        return None
    try:
        names = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        return tuple(str(names[k]) for k in sorted(names))
    if isinstance(names, (list, tuple)):
        return tuple(str(n) for n in names)
    return None


class OnnxYoloDetector(Detector):
    """A YOLO ONNX export behind the Detector interface; Inference.yolo_cells says where each box came from."""

    capabilities = frozenset({"yolo_cells"})

    def __init__(self, session, path: Path, device: str = "cpu", class_names=None, nms: NMSParams | None = None):
        self.session, self.path, self.device = session, Path(path), device
        self.name = self.path.name
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1:
            raise DetectorError(f"{self.name} has {len(inputs)} inputs; a YOLO export has one image input.")
        shape = inputs[0].shape
        meta = session.get_modelmeta().custom_metadata_map
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if "float16" in str(inputs[0].type) else np.float32  # half-precision exports
        self.input_hw = self._input_size(shape, meta)
        names = class_names or _metadata_names(meta)
        out_shape = [d if isinstance(d, int) else None for d in outputs[0].shape]
        if None in out_shape:  # dynamic axes: run once on a blank input to learn them
            blank = np.zeros((1, 3, *self.input_hw), self.input_dtype)
            out_shape = list(session.run([outputs[0].name], {self.input_name: blank})[0].shape)
        self.layout, num_classes, predictions = output_layout(out_shape, len(names) if names else None)
        self.nms = nms if nms is not None else DEFAULT_NMS[self.layout]
        self.anchors_per_cell = 3 if self.layout == "v5" else 1
        self.levels = head_levels(self.input_hw, predictions, self.anchors_per_cell)
        self.class_names = tuple(names) if names else tuple(f"class {i}" for i in range(num_classes))
        self.output_name = outputs[0].name

    @staticmethod
    def _input_size(shape, meta: dict) -> tuple[int, int]:
        if len(shape) != 4:
            raise DetectorError(f"the model's input has shape {shape}; a YOLO export takes (1, 3, H, W).")
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int):
            return h, w
        try:
            size = ast.literal_eval(meta.get("imgsz", "[640, 640]"))
            return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (int(size), int(size))
        except (ValueError, SyntaxError, TypeError, IndexError):
            return 640, 640

    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 -> Inference with candidates, detections and yolo_cells."""
        import torch
        from torchvision.ops import batched_nms

        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DetectorError(f"{self.name} needs an RGB image of shape (H, W, 3), got {image_rgb.shape}.")
        t0 = time.perf_counter()
        batch, (scale, pad_x, pad_y) = letterbox(image_rgb, self.input_hw)
        t1 = time.perf_counter()
        out = self.session.run([self.output_name], {self.input_name: batch.astype(self.input_dtype)})[0][0]
        out = out.astype(np.float32, copy=False)
        t2 = time.perf_counter()
        rows = out.T if self.layout == "v8" else out  # (N, 4 + C) or (N, 5 + C)
        if self.layout == "v8":
            class_scores = rows[:, 4:]
        else:
            class_scores = rows[:, 5:] * rows[:, 4:5]
        labels = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), labels]
        index = np.flatnonzero(scores > min(CANDIDATE_FLOOR, self.nms.score_threshold))
        cx, cy, bw, bh = (rows[index, i] for i in range(4))
        h0, w0 = image_rgb.shape[:2]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        boxes = (boxes - np.array([pad_x, pad_y, pad_x, pad_y], np.float32)) / scale
        boxes = np.clip(boxes, 0, [w0, h0, w0, h0]).astype(np.float32)
        scores, labels = scores[index].astype(np.float32), labels[index].astype(np.int64)
        if self.nms.class_agnostic:
            groups = torch.zeros(len(labels), dtype=torch.int64)
        else:
            groups = torch.from_numpy(labels)
        keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), groups, self.nms.iou_threshold).numpy()
        keep = keep[scores[keep] > self.nms.score_threshold]
        if self.nms.max_detections is not None:
            keep = keep[: self.nms.max_detections]
        t3 = time.perf_counter()
        level, col, row, anchor = cells_of(index, self.levels, self.anchors_per_cell)
        candidates = Detections(boxes, scores, labels, self.class_names)
        cells = YoloCells(self.levels, self.anchors_per_cell, level, col, row, anchor, keep.astype(np.int64),
                          (scale, pad_x, pad_y))
        return Inference(
            model_name=self.name, image_size=(h0, w0), detections=candidates[keep], candidates=candidates,
            nms=self.nms, yolo_cells=cells, device=self.device, input_size=self.input_hw,
            scale=(float(scale), float(scale)),
            timings={"preprocess": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3},
        )

    def close(self) -> None:
        self.session = None


def load_onnx_yolo(path, device: str = "cpu", class_names=None) -> OnnxYoloDetector:
    """Open a YOLO .onnx export; CheckpointError / DetectorError (one sentence) when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file.")
    try:
        import onnxruntime as ort
    except ImportError:
        raise DetectorError("Running ONNX models needs onnxruntime: pip install onnxruntime.") from None
    device = (device or "auto").lower()
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise DetectorError(f"Unknown device '{device}'; use auto, cpu or cuda.")
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device.startswith("cuda") and not has_cuda:
        raise DetectorError("This onnxruntime has no CUDA support; install onnxruntime-gpu or use --device cpu.")
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") or (device == "auto" and has_cuda):
        index = device.partition(":")[2]
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(index)}) if index.isdigit()
                         else "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / NoSuchFile types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a model onnxruntime can open: {first[:200]}") from None
    # where it really runs: onnxruntime falls back to the CPU when CUDA cannot start
    ran_on = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
    return OnnxYoloDetector(session, path, ran_on, class_names)
