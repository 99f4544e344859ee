"""Every detector detviewer can load: one ``ModelInfo`` each (loader, capabilities, defaults), and ``load_detector``.

Adding a detector is one adapter module and one ``ModelInfo`` (here, or ``register_model`` from outside).
Adapters do not re-declare what a model can show: ``load_detector`` gives each detector its entry's
capabilities, narrowed only where one file can show less (an ONNX export with NMS built in).
Importing this module is cheap (no torch): the window lists the models before torch is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.errors import CheckpointError, DetectorError, DetviewerError

if TYPE_CHECKING:
    from detviewer.detectors.base import Detector, ProgressCallback

__all__ = ["ModelInfo", "MODELS", "AUTO", "FALLBACK_MODEL", "WEIGHTS_CHOICES", "register_model", "unregister_model",
           "available_models", "model_info", "is_onnx_path", "resolve_device", "load_detector"]

WEIGHTS_CHOICES = ("default", "coco", "none")
#: The model name meaning "the first shipped demo model that loads" (the first launch, offline).
AUTO = "auto"
#: What AUTO falls back to when no demo checkpoint loads: untrained, but it still shows anchors and NMS.
FALLBACK_MODEL = "ssdlite320_mobilenet_v3_large"


@dataclass(frozen=True)
class ModelInfo:
    """A detector the registry can build.

    capabilities: what it can show besides detections
    (detectors.base.CAPABILITIES); default_weights: what weights="default" means ("coco" torchvision's COCO
    weights, "shipped" the checkpoint in models/, "file" a file must be given, "opencv" the classifier in OpenCV's
    wheel); loader: "module:function",
    called as ``function(info, weights, device, progress) -> Detector``; auto_rank: the order in which AUTO
    tries it (None: never); display_score: the score threshold that shows this model's result cleanly (None:
    the window's default); for the demo models, about their F1-best threshold on the bundled demo images
    (demo-frcnn 0.76: 19 TP, 4 FP, 1 missed of 20; demo-ssd 0.5: 18 / 1 / 2; demo-yolo 0.3: 17 / 2 / 3).
    """

    name: str
    description: str
    capabilities: frozenset[str]
    default_weights: str
    loader: str
    auto_rank: int | None = None
    display_score: float | None = None


_TORCHVISION = "detviewer.detectors.torchvision_models:load"
_DEMO = "detviewer.detectors.demo:load"
_ONNX = "detviewer.detectors.onnx_loader:load"
_CLASSIC = "detviewer.detectors.classic:load"
_RCNN, _ONE_STAGE, _SSD = frozenset({"anchors", "proposals"}), frozenset({"anchors"}), frozenset({"anchors", "default_boxes"})


def _classic(name: str, description: str, extra: frozenset[str] = frozenset()) -> ModelInfo:
    """OpenCV's classic detectors: weights "default" is the classifier OpenCV's wheel ships (a cascade may be
    given as an .xml file); display_score 0 shows every grouped detection (their scores are logistic margins);
    extra: capabilities besides "classic" ("svm_margins": a linear SVM's margin for every window)."""
    return ModelInfo(name, description, frozenset({"classic"}) | extra, "opencv", _CLASSIC, display_score=0.0)


def _tv(name: str, description: str, capabilities: frozenset[str]) -> ModelInfo:
    return ModelInfo(name, description, capabilities, "coco", _TORCHVISION)


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("demo-frcnn", "Demo Faster R-CNN (small conv backbone + FPN, 4 anchor levels) trained on shapes",
              _RCNN, "shipped", _DEMO, auto_rank=0, display_score=0.75),
    ModelInfo("demo-ssd", "Demo SSD (4-level conv backbone, multi-scale default boxes) trained on shapes",
              _SSD, "shipped", _DEMO, auto_rank=1, display_score=0.5),
    ModelInfo("demo-yolo", "Demo YOLOv1-style 7×7 grid, 2 boxes per cell, trained on shapes",
              frozenset({"grid"}), "shipped", _DEMO, auto_rank=2, display_score=0.3),
    _tv("fasterrcnn_resnet50_fpn", "Faster R-CNN, ResNet-50 FPN (two-stage)", _RCNN),
    _tv("fasterrcnn_resnet50_fpn_v2", "Faster R-CNN v2, ResNet-50 FPN (two-stage)", _RCNN),
    _tv("fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN, MobileNetV3-Large FPN", _RCNN),
    _tv("fasterrcnn_mobilenet_v3_large_320_fpn", "Faster R-CNN, MobileNetV3-Large FPN at 320 px", _RCNN),
    _tv("retinanet_resnet50_fpn", "RetinaNet, ResNet-50 FPN (one-stage, focal loss)", _ONE_STAGE),
    _tv("retinanet_resnet50_fpn_v2", "RetinaNet v2, ResNet-50 FPN", _ONE_STAGE),
    _tv("ssd300_vgg16", "SSD300, VGG-16 (default boxes on 6 scales)", _SSD),
    _tv("ssdlite320_mobilenet_v3_large", "SSDlite320, MobileNetV3-Large", _SSD),
    _tv("fcos_resnet50_fpn", "FCOS, ResNet-50 FPN (anchor-free: one point per cell)", _ONE_STAGE),
    _classic("haar-frontalface", "Viola–Jones Haar cascade, frontal faces (OpenCV's frontalface_default, 24×24)"),
    _classic("haar-catface", "Viola–Jones Haar cascade, frontal cat faces (OpenCV's frontalcatface, 24×24)"),
    _classic("haar-fullbody", "Viola–Jones Haar cascade, whole standing people (OpenCV's fullbody, 14×28)"),
    _classic("haar-upperbody", "Viola–Jones Haar cascade, head and shoulders (OpenCV's upperbody, 22×18)"),
    _classic("hog-people", "Dalal–Triggs HOG + linear SVM people detector (OpenCV's default, 64×128)",
             frozenset({"svm_margins"})),
    ModelInfo("yolo-onnx", "YOLO exported to ONNX (YOLOv5 / v8 / 11 layout): give the .onnx file as weights",
              frozenset({"yolo_cells"}), "file", _ONNX),
)}


def register_model(info: ModelInfo) -> None:
    """Add a detector (its loader is imported when it is first loaded); a second one with the same name is refused."""
    if info.name in MODELS or info.name == AUTO:
        raise ValueError(f"a model named {info.name!r} is already registered")
    MODELS[info.name] = info


def unregister_model(name: str) -> None:
    MODELS.pop(name, None)


def available_models() -> list[ModelInfo]:
    """Every name ``load_detector`` accepts, the demo models first."""
    return sorted(MODELS.values(), key=lambda m: m.auto_rank is None)


def is_onnx_path(name: str) -> bool:
    """A model "name" that is an .onnx file path (``detviewer --model yolov8n.onnx``)."""
    return str(name).lower().endswith(".onnx")


def model_info(name: str) -> ModelInfo:
    if is_onnx_path(name):
        return MODELS["yolo-onnx"]
    info = MODELS.get(name)
    if info is None:
        known = ", ".join([AUTO] + [m.name for m in available_models()])
        raise DetectorError(f"Unknown model '{name}'; choose one of: {known}.")
    return info


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when a CUDA GPU is usable, else 'cpu'; validates explicit choices."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DetectorError("CUDA was requested but no CUDA GPU is available here; use --device cpu or auto.")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise DetectorError(f"There is no GPU '{device}' here ({torch.cuda.device_count()} CUDA device(s)).")
        return device
    raise DetectorError(f"Unknown device '{device}'; use auto, cpu or cuda.")


def load_detector(name: str, weights: str = "default", device: str = "auto",
                  progress: ProgressCallback | None = None) -> Detector:
    """Build a ready-to-run Detector.

    name: a registered model, an .onnx path, or AUTO (the first shipped demo model that loads, else an untrained
    FALLBACK_MODEL, with ``load_note`` saying so). weights: "default" (see ModelInfo.default_weights), "coco",
    "none" (random initialisation) or a checkpoint / .onnx path. progress(fraction or None, message) reports
    downloads and loading steps. The detector carries ``weights`` and ``display_score`` from its entry.
    """
    if name == AUTO:
        return _load_auto(device, progress)
    info = model_info(name)
    weights = weights or "default"
    if is_onnx_path(name):
        weights = name
    if info.default_weights == "file" and weights in WEIGHTS_CHOICES:
        raise DetectorError(f"{info.name} runs a file: pass it as the weights (--model {info.name} --weights FILE) "
                            "or as the model (--model model.onnx).")
    if info.default_weights != "file" and weights not in WEIGHTS_CHOICES and not Path(weights).exists():
        raise CheckpointError(f"{weights}: no such checkpoint file (weights must be coco, none or a file path).")
    module_name, _, function = info.loader.partition(":")
    loader = getattr(importlib.import_module(module_name), function)
    detector = loader(info, weights, device, progress)
    if detector.capabilities is None:
        detector.capabilities = info.capabilities
    detector.weights = weights
    detector.display_score = info.display_score
    return detector


def _load_auto(device: str, progress: ProgressCallback | None) -> Detector:
    for info in sorted((m for m in MODELS.values() if m.auto_rank is not None), key=lambda m: m.auto_rank or 0):
        try:
            if progress is not None:
                progress(None, f"Loading {info.name}…")
            return load_detector(info.name, "default", device, progress)
        except DetviewerError:
            continue
    if progress is not None:
        progress(None, f"Loading {FALLBACK_MODEL} (untrained)…")
    detector = load_detector(FALLBACK_MODEL, "none", device, progress)
    detector.load_note = "untrained model (no demo model shipped): its boxes mean nothing"
    return detector
