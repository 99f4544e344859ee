"""Evaluation protocols: the thresholds a dataset run uses, chosen by the model's own framework.

A number is only comparable with the framework's own validation when the run keeps what that validation keeps:

- ``ultralytics-val``: Ultralytics exports as ``yolo val`` runs them (``engine/validator.py``, ``cfg/default.yaml``,
  ``models/yolo/detect/val.py``): every class scoring above 0.001 is a candidate (``multi_label=True``), NMS IoU
  0.7, at most 300 detections, val's letterbox (long side to imgsz, never scaled up; rectangular for dynamic
  exports, square for fixed-size ones) and unclipped boxes;
- ``ultralytics-predict``: ``yolo predict``'s defaults (conf 0.25, best class only, IoU 0.7, 300, clipped):
  what the window shows, kept for comparing with older runs; never the default for a dataset run;
- ``torchvision-reference``: torchvision's reference evaluation (``references/detection/engine.py``): the model
  as built, its own ``box_score_thresh``, NMS and ``detections_per_img``;
- ``detviewer-demo``: the shipped demo models, evaluated like torchvision's reference (their own thresholds).

``protocol_for(detector)`` picks the model's own; ``get_protocol(name)`` another (``--protocol``). The window's
display threshold plays no part: a protocol's floor is the only one a dataset run applies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from detviewer.detectors.base import Detector, EvaluationSettings
from detviewer.errors import DetviewerError

__all__ = ["Protocol", "PROTOCOLS", "protocol_for", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol. ``name`` is what a stored run is keyed by (``core.run_info.RunInfo.protocol``);
    description: one line for the report; settings: the thresholds ``Detector.evaluating`` applies (None keeps the
    model's own: see detectors.base.EvaluationSettings)."""

    name: str
    description: str
    settings: EvaluationSettings = EvaluationSettings()

    def summary(self, detector: Detector | None = None) -> str:
        """One line: ``protocol NAME: DESCRIPTION (score > F, NMS IoU I, at most N per image)``, the model's
        own values filled in from ``detector.nms`` where the protocol keeps them."""
        nms, own = getattr(detector, "nms", None), self.settings
        floor = own.score_floor if own.score_floor is not None else getattr(nms, "score_threshold", None)
        iou = own.nms_iou if own.nms_iou is not None else getattr(nms, "iou_threshold", None)
        top = own.max_detections if own.max_detections is not None else getattr(nms, "max_detections", None)
        parts = [f"score > {floor:g}" if floor is not None else "the model's score floor",
                 f"NMS IoU {iou:g}" if iou is not None else "the model's NMS",
                 f"at most {top} per image" if top is not None else "no detection limit"]
        if own.multi_label:
            parts.append("multi-label")
        return f"protocol {self.name}: {self.description} ({', '.join(parts)})"

    def as_dict(self, detector: Detector | None = None) -> dict[str, object]:
        """The protocol for --json: its fields and the summary line."""
        return {"name": self.name, "description": self.description, **asdict(self.settings),
                "summary": self.summary(detector)}


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("ultralytics-val", "as Ultralytics' yolo val runs an export (conf 0.001, multi-label, IoU 0.7, "
             "max_det 300, val's letterbox, unclipped boxes)", EvaluationSettings(0.001, 0.7, 300, True, "val", False)),
    Protocol("ultralytics-predict", "as Ultralytics' yolo predict runs an export (conf 0.25, best class, IoU 0.7, "
             "max_det 300): fewer low-scoring boxes, lower AP than yolo val",
             EvaluationSettings(0.25, 0.7, 300, False, "predict", True)),
    Protocol("torchvision-reference", "as torchvision's reference evaluation runs the model (its own "
             "box_score_thresh, NMS and detections_per_img)"),
    Protocol("detviewer-demo", "the demo model's own thresholds, evaluated as torchvision's reference does"),
)}

_BY_FRAMEWORK = {"ultralytics": "ultralytics-val", "torchvision": "torchvision-reference",
                 "detviewer-demo": "detviewer-demo"}


def protocol_for(detector: Detector) -> Protocol:
    """The validation protocol of ``detector``'s own framework (``Detector.framework``); a detector of no
    known framework keeps its own thresholds (torchvision-reference's rule)."""
    return PROTOCOLS[_BY_FRAMEWORK.get(getattr(detector, "framework", ""), "torchvision-reference")]


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; DetviewerError (one sentence) naming the known ones otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise DetviewerError(f"unknown protocol '{name}'; choose one of {', '.join(PROTOCOLS)}.") from None
