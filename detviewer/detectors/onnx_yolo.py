"""YOLO models exported to ONNX (Ultralytics YOLOv5 / YOLOv8 / YOLO11 / YOLO26 layouts), run with onnxruntime.

Run exactly as Ultralytics' ``predict`` runs them (the letterbox and the way back are in ``letterbox.py``).
An export whose graph ends before NMS has one row per cell (and anchor) of every head level. Two layouts:

- YOLOv8 / 11 / 26 (anchor-free): output (1, 4 + C, N), rows ``cx, cy, w, h`` (input pixels) then C class
  scores; N = sum over levels of rows x cols.
- YOLOv5 (3 anchors per cell): output (1, N, 5 + C), columns ``cx, cy, w, h, objectness`` then C class
  probabilities; N = 3 x sum of rows x cols; a box's score is objectness x class probability.

Within a level predictions are in row-major cell order (YOLOv5: anchor first). The levels' strides
are 8, 16, 32 (64): whichever count of levels adds up to N, so the cell and level of each candidate
(``core.types.YoloCells``) follow from its index. Class names come from the export's metadata
(Ultralytics writes ``names``), else "class 0", "class 1"…; labels are the class indices.

NMS is Ultralytics' own: the candidates scoring above the threshold, in model-input pixels before any
clipping, shifted by class x 7680 and passed to ``torchvision.ops.nms``, at each family's default IoU
(0.7 for v8 / 11 / 26, 0.45 for v5), at most 300 kept. ``Inference.candidates`` are those boxes mapped
back to original pixels but not clipped (what the NMS compared, so a replay reproduces it; IoU does not
change under the letterbox's per-axis scale and shift); ``Inference.detections`` are the kept ones clipped
to the frame, as Ultralytics reports them. Exports with NMS inside or an end-to-end head output only
final detections: ``onnx_final.OnnxFinalDetector``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams, YoloCells
from detviewer.detectors.base import Detector
from detviewer.detectors.letterbox import clip_boxes, ultralytics_box_mapping, yolov5_box_mapping
from detviewer.detectors.onnx_export import ExportInfo, read_export, run_export
from detviewer.detectors.onnx_final import FINAL_ROW_WIDTH, OnnxFinalDetector, UltralyticsExport
from detviewer.errors import CheckpointError, DetectorError, first_line

__all__ = ["OnnxYoloDetector", "load_onnx_yolo", "output_layout", "head_levels", "cells_of", "yolo_nms"]

DEFAULT_NMS = {"v8": NMSParams(iou_threshold=0.7, score_threshold=0.25, class_agnostic=False, max_detections=300),
               "v5": NMSParams(iou_threshold=0.45, score_threshold=0.25, class_agnostic=False, max_detections=300)}
CANDIDATE_FLOOR = 0.05  # candidates kept for the replay reach down to this score (the slider can go lower than 0.25)
CLASS_OFFSET = 7680  # Ultralytics' (and YOLOv5's) max_wh: boxes of different classes never overlap
MAX_NMS_BOXES = 30000  # Ultralytics' max_nms: only the best-scoring boxes enter NMS


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


def yolo_nms(boxes_xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray, params: NMSParams) -> np.ndarray:
    """Ultralytics' ``non_max_suppression`` on one image's candidates -> kept indices (K,) int64, best first.

    boxes (N, 4) float32 xyxy in model-input pixels; scores (N,) float32; labels (N,) int64. Boxes scoring
    above ``params.score_threshold`` (at most 30,000, best first) are shifted by label x 7680 (not when
    class-agnostic) and go through ``torchvision.ops.nms``; at most ``params.max_detections`` are kept.
    """
    import torch

    nms = _torchvision_nms()
    above = np.flatnonzero(scores > params.score_threshold)
    if len(above) > MAX_NMS_BOXES:
        above = above[np.argsort(-scores[above], kind="stable")[:MAX_NMS_BOXES]]
    if not len(above):
        return np.zeros(0, np.int64)
    boxes = boxes_xyxy[above]
    if not params.class_agnostic:
        boxes = boxes + labels[above].astype(np.float32)[:, None] * np.float32(CLASS_OFFSET)
    keep = nms(torch.from_numpy(np.ascontiguousarray(boxes)), torch.from_numpy(scores[above]),
               float(params.iou_threshold)).numpy()
    if params.max_detections is not None:
        keep = keep[: params.max_detections]
    return above[keep].astype(np.int64)


def _torchvision_nms() -> Callable:
    """``torchvision.ops.nms``'s kernel (the same ``torch.ops.torchvision.nms`` it calls) without importing the
    torchvision package: that import pulls torchvision.models and torch._dynamo (~2 s of CPU, most of an
    ``eval`` of a small export); loading torchvision's op library alone takes ~0.3 s. Falls back to the
    package when torchvision is already imported or its library is not where the package keeps it."""
    import sys

    import torch

    if "torchvision" not in sys.modules and not hasattr(torch.ops.torchvision, "nms"):
        import importlib.util

        spec = importlib.util.find_spec("torchvision")
        folder = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
        library = next(iter(sorted(folder.glob("_C_stable*.so")) + sorted(folder.glob("_C*.so"))), None) if folder else None
        if library is not None:
            with contextlib.suppress(OSError, RuntimeError):  # then the package's import below says why
                torch.ops.load_library(str(library))
    try:
        return torch.ops.torchvision.nms
    except (AttributeError, RuntimeError):
        from torchvision.ops import nms

        return nms


def _xywh_to_xyxy(rows: np.ndarray) -> np.ndarray:
    """(N, 4) float32 cx, cy, w, h -> x1, y1, x2, y2 (the same float32 steps as Ultralytics' xywh2xyxy)."""
    half = rows[:, 2:4] / np.float32(2)
    return np.concatenate([rows[:, :2] - half, rows[:, :2] + half], axis=1)


class OnnxYoloDetector(UltralyticsExport):
    """A YOLO ONNX export behind the Detector interface; Inference.yolo_cells says where each box came from."""

    capabilities = frozenset({"yolo_cells"})

    def __init__(self, session, path: Path, export: ExportInfo, device: str = "cpu", class_names=None,
                 nms: NMSParams | None = None):
        self.session, self.path, self.device, self.export = session, Path(path), device, export
        self.name = self.path.name
        self.input_hw = export.input_hw
        names = class_names or export.class_names
        self.layout, num_classes, predictions = output_layout(export.output_shape, len(names) if names else None)
        self.nms = nms if nms is not None else DEFAULT_NMS[self.layout]
        self.anchors_per_cell = 3 if self.layout == "v5" else 1
        self.levels = head_levels(self.input_hw, predictions, self.anchors_per_cell)
        self.class_names = tuple(names) if names else tuple(f"class {i}" for i in range(num_classes))
        # Ultralytics 8 maps back per axis with rounded pads; YOLOv5's own predict with one gain, unrounded pads
        self._box_mapping = yolov5_box_mapping if self.layout == "v5" else ultralytics_box_mapping

    def _scores(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """rows (N, 4 + C) or (N, 5 + C) -> best class score (N,) float32 and its label (N,) int64."""
        class_scores = rows[:, 4:] if self.layout == "v8" else rows[:, 5:] * rows[:, 4:5]
        labels = class_scores.argmax(axis=1)
        return class_scores[np.arange(len(rows)), labels], labels.astype(np.int64)

    def _candidates(self, rows: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row index (K,), score (K,) float32, label (K,) int64) of the candidates above ``floor``: each row's
        best class, or with ``multi_label`` every (row, class) pair above it in row-major order, as
        Ultralytics' ``non_max_suppression(multi_label=True)`` builds them."""
        if not self.multi_label:
            scores, labels = self._scores(rows)
            index = np.flatnonzero(scores > floor)
            return index, scores[index].astype(np.float32), labels[index]
        class_scores = rows[:, 4:] if self.layout == "v8" else rows[:, 5:] * rows[:, 4:5]
        index, labels = np.nonzero(class_scores > floor)
        return index.astype(np.int64), class_scores[index, labels].astype(np.float32), labels.astype(np.int64)

    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 -> Inference with candidates, detections and yolo_cells."""
        out, geometry, preprocess_ms, model_ms = run_export(self.export, self.session, image_rgb, self.name,
                                                            self.letterbox)
        t2 = time.perf_counter()
        rows = out.T if self.layout == "v8" else out  # (N, 4 + C) or (N, 5 + C)
        levels = (self.levels if geometry.input_hw == self.input_hw
                  else head_levels(geometry.input_hw, len(rows), self.anchors_per_cell))  # dynamic exports
        index, scores, labels = self._candidates(rows, min(CANDIDATE_FLOOR, self.nms.score_threshold))
        boxes_input = _xywh_to_xyxy(rows[index, :4])
        keep = yolo_nms(boxes_input, scores, labels, self.nms)
        h0, w0 = image_rgb.shape[:2]
        mapping = self._mapping(geometry, (h0, w0)) if self.letterbox == "val" else self._box_mapping(
            geometry.input_hw, (h0, w0))
        candidates = Detections(mapping.to_original(boxes_input), scores, labels, self.class_names)
        kept = candidates.xyxy[keep]
        detections = Detections(clip_boxes(kept, (h0, w0)) if self.clip else kept, scores[keep], labels[keep],
                                self.class_names)
        t3 = time.perf_counter()
        level, col, row, anchor = cells_of(index, levels, self.anchors_per_cell)
        cells = YoloCells(levels, self.anchors_per_cell, level, col, row, anchor, keep,
                          (geometry.ratio, float(geometry.left), float(geometry.top)))
        return Inference(
            model_name=self.name, image_size=(h0, w0), detections=detections, candidates=candidates,
            nms=self.nms, yolo_cells=cells, device=self.device, input_size=geometry.input_hw,
            scale=(mapping.gain_y, mapping.gain_x),
            timings={"preprocess": preprocess_ms, "model": model_ms, "postprocess": (t3 - t2) * 1e3},
        )

    def close(self) -> None:
        self.session = None


def _torch_threads() -> int:
    """torch's intra-op threads in the calling thread: onnxruntime gets as many (``--threads``,
    DETVIEWER_THREADS or cores - 1, as ``threads.configure_torch_threads`` chose), not one per core."""
    import torch

    return max(1, torch.get_num_threads())


def _detector_for(session, path: Path, device: str, class_names) -> Detector:
    """The raw-output detector, or the final-detections one for exports with NMS inside or (1, K, 6) outputs."""
    export = read_export(session)
    if export.output_kind in ("nms", "end2end"):
        return OnnxFinalDetector(session, path, export, device, class_names)
    try:
        return OnnxYoloDetector(session, path, export, device, class_names)
    except DetectorError:
        shape = export.output_shape
        if len(shape) == 3 and shape[2] == FINAL_ROW_WIDTH:  # no metadata, but final rows' shape
            return OnnxFinalDetector(session, path, dataclasses.replace(export, output_kind="final"), device,
                                     class_names)
        raise


def load_onnx_yolo(path, device: str = "cpu", class_names=None) -> Detector:
    """Open a YOLO .onnx export: an OnnxYoloDetector, or an OnnxFinalDetector for exports that output only
    final detections; CheckpointError / DetectorError (one sentence) when it is not a YOLO export."""
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
    options.intra_op_num_threads = _torch_threads()
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / NoSuchFile types
        first = first_line(exc)
        raise CheckpointError(f"{path} is not a model onnxruntime can open: {first[:200]}") from None
    # where it really runs: onnxruntime falls back to the CPU when CUDA cannot start
    ran_on = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
    try:
        return _detector_for(session, path, ran_on, class_names)
    except DetectorError as exc:
        raise DetectorError(f"{path.name}: {exc}") from None
