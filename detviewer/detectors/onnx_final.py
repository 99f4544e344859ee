"""YOLO exports that output only final detections: NMS built in (``nms=True``) or an end-to-end head.

Their output is (1, max_det, 6): rows ``x1, y1, x2, y2, score, class`` in model-input pixels, best first,
zero rows as padding. Run as Ultralytics' ``predict`` runs them: the same letterbox, rows with a score
above the threshold (0.25, as predict), at most ``max_det`` of them, mapped back with ``scale_boxes`` and
clipped. There is nothing before the final rows to show, so ``Inference.candidates`` holds the detections
themselves and ``final_only_reason`` says in one sentence why the NMS replay and the cell view are absent.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.detectors.base import Detector, EvaluationSettings
from detviewer.detectors.letterbox import clip_boxes, ultralytics_box_mapping
from detviewer.detectors.onnx_export import ExportInfo, final_only_reason, run_export
from detviewer.errors import DetectorError

__all__ = ["OnnxFinalDetector", "FINAL_ROW_WIDTH", "UltralyticsExport"]

FINAL_ROW_WIDTH = 6  # x1, y1, x2, y2, score, class


class UltralyticsExport(Detector):
    """What every Ultralytics export detector sets for an evaluation protocol besides ``self.nms``:
    multi-label candidates (raw exports only), the letterbox ("predict" | "val") and clipping."""

    framework = "ultralytics"
    multi_label = False  # predict: each box's best class only; Ultralytics' val: every class above the floor
    letterbox = "predict"  # or "val" (letterbox.val_letterbox_geometry)
    clip = True  # clip detections to the frame (predict); val scores them unclipped

    @contextlib.contextmanager
    def evaluating(self, settings: EvaluationSettings) -> Iterator[None]:
        """``Detector.evaluating`` plus multi-label candidates, the letterbox and clipping."""
        saved = (self.multi_label, self.letterbox, self.clip)
        if settings.multi_label is not None:
            self.multi_label = bool(settings.multi_label)
        if settings.letterbox is not None:
            self.letterbox = settings.letterbox
        if settings.clip is not None:
            self.clip = bool(settings.clip)
        try:
            with super().evaluating(settings):
                yield
        finally:
            self.multi_label, self.letterbox, self.clip = saved

    def _mapping(self, geometry, image_hw):
        """Input -> original pixels: val's exact inverse, else ``scale_boxes``' (``ultralytics_box_mapping``)."""
        return geometry.mapping() if self.letterbox == "val" else ultralytics_box_mapping(geometry.input_hw, image_hw)


class OnnxFinalDetector(UltralyticsExport):
    """A (1, max_det, 6) export behind the Detector interface: detections only."""

    capabilities = frozenset()

    def __init__(self, session, path: Path, export: ExportInfo, device: str = "cpu", class_names=None,
                 nms: NMSParams | None = None) -> None:
        shape = export.output_shape
        if len(shape) != 3 or shape[2] != FINAL_ROW_WIDTH:
            raise DetectorError(f"an output of shape {shape} is not (1, detections, 6) final detections.")
        self.session, self.path, self.device, self.export = session, Path(path), device, export
        self.name = self.path.name
        self.max_detections = int(shape[1])
        names = class_names or export.class_names
        self.class_names = tuple(names) if names else ()
        # nms=True exports ran Ultralytics' default NMS inside (IoU 0.7); end-to-end heads ran none (IoU 1 keeps all)
        iou = 0.7 if export.output_kind == "nms" else 1.0
        self.nms = nms if nms is not None else NMSParams(iou_threshold=iou, score_threshold=0.25,
                                                         class_agnostic=False, max_detections=self.max_detections)
        self.final_only_reason = final_only_reason(export.output_kind, self.max_detections)
        self.input_hw = export.input_hw

    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 -> Inference whose candidates are its detections (the export keeps nothing else)."""
        rows, geometry, preprocess_ms, model_ms = run_export(self.export, self.session, image_rgb, self.name,
                                                             self.letterbox)
        t2 = time.perf_counter()
        keep = np.flatnonzero(rows[:, 4] > self.nms.score_threshold)
        if self.nms.max_detections is not None:
            keep = keep[: self.nms.max_detections]
        image_hw = image_rgb.shape[:2]
        mapping = self._mapping(geometry, image_hw)
        boxes = mapping.to_original(rows[keep, :4])
        boxes = clip_boxes(boxes, image_hw) if self.clip else boxes
        detections = Detections(boxes, rows[keep, 4], rows[keep, 5].astype(np.int64), self.class_names)
        t3 = time.perf_counter()
        return Inference(
            model_name=self.name, image_size=image_hw, detections=detections, candidates=detections, nms=self.nms,
            device=self.device, input_size=geometry.input_hw, scale=(mapping.gain_y, mapping.gain_x),
            timings={"preprocess": preprocess_ms, "model": model_ms, "postprocess": (t3 - t2) * 1e3},
        )

    def close(self) -> None:
        self.session = None
