"""What an ONNX YOLO export says about itself: input size, dynamic axes, stride, class names, NMS inside.

Ultralytics writes its metadata as strings in the ONNX file's ``metadata_props``: ``imgsz`` ("[320, 320]"),
``stride`` ("32"), ``names`` ("{0: 'person', ...}"), ``args`` ("{'nms': True, 'dynamic': False, ...}") and
``end2end`` ("True" for YOLO26's NMS-free head). Every value is read as a literal, never run.

Output kinds:

- ``raw``: one row per cell (and anchor) of every head level, before NMS (``onnx_yolo.output_layout``);
- ``nms``: exported with ``nms=True``: (1, max_det, 6) rows ``x1, y1, x2, y2, score, class`` in input
  pixels, after the export's own score filter and NMS, zero rows as padding;
- ``end2end``: YOLO26 / YOLOv10's one-to-one head (exported with ``nms=False``): the same (1, max_det, 6)
  rows, the top-scoring predictions without any NMS.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from detviewer.detectors.letterbox import (
    LetterboxGeometry,
    letterbox_geometry,
    letterbox_image,
    to_input_batch,
    val_letterbox_geometry,
)
from detviewer.errors import DetectorError

__all__ = ["ExportInfo", "read_export", "letterboxed_input", "run_export", "metadata_literal", "metadata_names",
           "final_only_reason"]

DEFAULT_IMGSZ = (640, 640)  # Ultralytics' predict size when nothing else says


@dataclass(frozen=True)
class ExportInfo:
    """One export's input and output as the detector needs them.

    input_hw: (H, W) the model input has (fixed exports) or is letterboxed towards (dynamic exports: the
    export's ``imgsz``); dynamic: height / width are free, so each image gets the smallest stride-multiple
    rectangle; output_kind: "raw" | "nms" | "end2end"; output_shape: (1, A, B) for one input of input_hw.
    """

    input_name: str
    input_dtype: type
    input_hw: tuple[int, int]
    dynamic: bool
    stride: int
    class_names: tuple[str, ...] | None
    output_name: str
    output_kind: str
    output_shape: tuple[int, ...]
    metadata: dict = field(default_factory=dict)


def metadata_literal(meta: dict, key: str):
    """``meta[key]`` read as a Python literal (Ultralytics writes dicts and lists as their repr); None if absent or bad."""
    text = meta.get(key)
    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def metadata_names(meta: dict) -> tuple[str, ...] | None:
    """Class names from Ultralytics' ``names`` metadata ("{0: 'person', ...}" or a list)."""
    names = metadata_literal(meta, "names")
    if isinstance(names, dict) and names and all(isinstance(k, int) for k in names):
        return tuple(str(names[k]) for k in sorted(names))
    if isinstance(names, (list, tuple)) and names:
        return tuple(str(n) for n in names)
    return None


def _imgsz(meta: dict) -> tuple[int, int]:
    size = metadata_literal(meta, "imgsz")
    if isinstance(size, int) and size > 0:
        return size, size
    if isinstance(size, (list, tuple)) and len(size) in (1, 2) and all(isinstance(s, int) and s > 0 for s in size):
        return (size[0], size[-1])
    return DEFAULT_IMGSZ


def _stride(meta: dict) -> int:
    stride = metadata_literal(meta, "stride")
    return stride if isinstance(stride, int) and stride > 0 else 32


def _output_kind(meta: dict) -> str:
    args = metadata_literal(meta, "args")
    if isinstance(args, dict) and args.get("nms") is True:
        return "nms"
    if metadata_literal(meta, "end2end") is True:
        return "end2end"
    return "raw"


def read_export(session) -> ExportInfo:
    """ExportInfo of an onnxruntime session; DetectorError (one sentence) when it is not a one-image YOLO export."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise DetectorError(f"the model has {len(inputs)} inputs; a YOLO export has one image input.")
    shape = inputs[0].shape
    if len(shape) != 4:
        raise DetectorError(f"the model's input has shape {shape}; a YOLO export takes (1, 3, H, W).")
    meta = dict(session.get_modelmeta().custom_metadata_map)
    fixed_h, fixed_w = (d if isinstance(d, int) and d > 0 else None for d in shape[2:])
    dynamic = fixed_h is None or fixed_w is None
    input_hw = _imgsz(meta) if dynamic else (fixed_h, fixed_w)
    input_dtype = np.float16 if "float16" in str(inputs[0].type) else np.float32  # half-precision exports
    out_shape = tuple(d if isinstance(d, int) else None for d in outputs[0].shape)
    if None in out_shape:  # dynamic axes: run once on a blank input to learn them
        blank = np.zeros((1, 3, *input_hw), input_dtype)
        try:
            out_shape = tuple(session.run([outputs[0].name], {inputs[0].name: blank})[0].shape)
        except Exception as exc:  # onnxruntime's own error types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DetectorError(f"the model does not run on a {input_hw[1]}×{input_hw[0]} image: {first[:200]}") from None
    return ExportInfo(inputs[0].name, input_dtype, input_hw, dynamic, _stride(meta), metadata_names(meta),
                      outputs[0].name, _output_kind(meta), tuple(int(d) for d in out_shape), meta)


def letterboxed_input(export: ExportInfo, image_rgb: np.ndarray,
                      mode: str = "predict") -> tuple[np.ndarray, LetterboxGeometry]:
    """image_rgb (H0, W0, 3) uint8 -> ((1, 3, H, W) input in the export's dtype, 0..1; where the image landed).

    mode "predict": fixed exports get their own size; dynamic ones the smallest stride-multiple rectangle around
    the image resized towards their ``imgsz`` (Ultralytics' ``LetterBox(auto=True)``, as ``predict(imgsz=imgsz)``).
    mode "val": ``yolo val``'s preprocessing (``letterbox.val_letterbox_geometry``; rectangular for dynamic exports).
    """
    if mode == "val":
        geometry = val_letterbox_geometry(image_rgb.shape[:2], export.input_hw, export.stride, export.dynamic)
    else:
        geometry = letterbox_geometry(image_rgb.shape[:2], export.input_hw, export.stride, export.dynamic)
    return to_input_batch(letterbox_image(image_rgb, geometry), export.input_dtype), geometry


def run_export(export: ExportInfo, session, image_rgb: np.ndarray, name: str, letterbox: str = "predict"):
    """(output (rows of the one image) float32, LetterboxGeometry, preprocess ms, model ms) of an onnxruntime
    ``session`` of ``export`` on image_rgb (H, W, 3) uint8 letterboxed as ``letterbox`` ("predict" | "val",
    see ``letterboxed_input``); DetectorError for another shape."""
    import time

    from detviewer.errors import DetectorError

    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise DetectorError(f"{name} needs an RGB image of shape (H, W, 3), got {image_rgb.shape}.")
    t0 = time.perf_counter()
    batch, geometry = letterboxed_input(export, image_rgb, letterbox)
    t1 = time.perf_counter()
    out = session.run([export.output_name], {export.input_name: batch})[0][0].astype(np.float32, copy=False)
    t2 = time.perf_counter()
    return out, geometry, (t1 - t0) * 1e3, (t2 - t1) * 1e3


def final_only_reason(kind: str, rows: int) -> str:
    """One sentence: why an export of this output kind has no NMS replay and no cell view."""
    if kind == "nms":
        return (f"This export has NMS built in (exported with nms=True): it outputs only its final {rows} "
                "detections, so there is no candidate list to replay NMS on and no cell to trace them to; "
                "export it again without nms=True to see the candidates.")
    if kind == "end2end":
        return (f"This export is end-to-end (a one-to-one head exported with nms=False): it outputs only its top "
                f"{rows} detections and runs no NMS, so there is nothing to replay and no cell to trace them to; "
                "export it again without the nms argument to see the one-to-many head's candidates.")
    return (f"This export outputs only final detections ({rows} rows of box, score and class), so there is no "
            "candidate list to replay NMS on and no cell to trace them to.")
