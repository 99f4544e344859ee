"""Detector names, what each can show, and ``load_detector``.

Importing this module is cheap (no torch): the window lists the models before torch is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detviewer.errors import CheckpointError, DetectorError

WEIGHTS_CHOICES = ("default", "coco", "none")


@dataclass(frozen=True)
class ModelInfo:
    """A detector the registry can build.

    family: 'rcnn' | 'retinanet' | 'fcos' | 'ssd' | 'yolo'; capabilities: subset of
    detectors.base.CAPABILITIES; default_weights: what weights="default" means for it ("file": a
    file must be given).
    """

    name: str
    description: str
    family: str
    capabilities: frozenset[str]
    default_weights: str


def _info(name, description, family, capabilities, default_weights="coco") -> ModelInfo:
    return ModelInfo(name, description, family, frozenset(capabilities), default_weights)


TORCHVISION_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    _info("fasterrcnn_resnet50_fpn", "Faster R-CNN, ResNet-50 FPN (two-stage)", "rcnn", {"anchors", "proposals"}),
    _info("fasterrcnn_resnet50_fpn_v2", "Faster R-CNN v2, ResNet-50 FPN (two-stage)", "rcnn", {"anchors", "proposals"}),
    _info("fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN, MobileNetV3-Large FPN", "rcnn", {"anchors", "proposals"}),
    _info("fasterrcnn_mobilenet_v3_large_320_fpn", "Faster R-CNN, MobileNetV3-Large FPN at 320 px", "rcnn",
          {"anchors", "proposals"}),
    _info("retinanet_resnet50_fpn", "RetinaNet, ResNet-50 FPN (one-stage, focal loss)", "retinanet", {"anchors"}),
    _info("retinanet_resnet50_fpn_v2", "RetinaNet v2, ResNet-50 FPN", "retinanet", {"anchors"}),
    _info("ssd300_vgg16", "SSD300, VGG-16 (default boxes on 6 scales)", "ssd", {"anchors", "default_boxes"}),
    _info("ssdlite320_mobilenet_v3_large", "SSDlite320, MobileNetV3-Large", "ssd", {"anchors", "default_boxes"}),
    _info("fcos_resnet50_fpn", "FCOS, ResNet-50 FPN (anchor-free: one point per cell)", "fcos", {"anchors"}),
)}

DEMO_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    _info("demo-frcnn", "Demo Faster R-CNN trained on shapes (ships with detviewer)", "rcnn",
          {"anchors", "proposals"}, "default"),
    _info("demo-ssd", "Demo SSD trained on shapes (ships with detviewer)", "ssd", {"anchors", "default_boxes"}, "default"),
    _info("demo-yolo", "Demo YOLOv1-style 7x7 grid model trained on shapes (ships with detviewer)", "yolo",
          {"grid"}, "default"),
)}


ONNX_MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    _info("yolo-onnx", "YOLO exported to ONNX (YOLOv5 / v8 / 11 layout): give the .onnx file as weights", "yolo",
          {"yolo_cells"}, "file"),
)}


def available_models() -> list[ModelInfo]:
    """Every name ``load_detector`` accepts: the demo models first, then torchvision's, then ONNX YOLO."""
    return list(DEMO_MODELS.values()) + list(TORCHVISION_MODELS.values()) + list(ONNX_MODELS.values())


def is_onnx_path(name: str) -> bool:
    """A model "name" that is an .onnx file path (``detviewer --model yolov8n.onnx``)."""
    return str(name).lower().endswith(".onnx")


def model_info(name: str) -> ModelInfo:
    if is_onnx_path(name):
        return ONNX_MODELS["yolo-onnx"]
    info = DEMO_MODELS.get(name) or TORCHVISION_MODELS.get(name) or ONNX_MODELS.get(name)
    if info is None:
        known = ", ".join(m.name for m in available_models())
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


def load_detector(name: str, weights: str = "default", device: str = "auto", progress=None):
    """Build a ready-to-run Detector.

    weights: "default" (COCO for torchvision models, the shipped checkpoint for demo models),
    "coco", "none" (random initialisation) or a path to a checkpoint file.
    progress(fraction or None, message) reports downloads and loading steps.
    """
    info = model_info(name)
    weights = weights or "default"
    if info.name in ONNX_MODELS:  # onnxruntime, not torch, decides where it runs
        from detviewer.detectors.onnx_yolo import load_onnx_yolo

        path = name if is_onnx_path(name) else weights
        if path in WEIGHTS_CHOICES:
            raise DetectorError("yolo-onnx runs an exported .onnx file: pass it as the weights "
                                "(--model yolo-onnx --weights model.onnx) or as the model (--model model.onnx).")
        if progress is not None:
            progress(None, f"Opening {Path(path).name} with onnxruntime…")
        return load_onnx_yolo(path, device)
    device = resolve_device(device)
    if info.name in DEMO_MODELS:
        from detviewer.detectors.demo import load_demo_detector

        return load_demo_detector(info.name, weights, device)
    from detviewer.detectors import torchvision_models

    if weights in ("default", "coco"):
        return torchvision_models.load_coco(info.name, device, progress)
    if weights == "none":
        return torchvision_models.load_untrained(info.name, device)
    path = Path(weights)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file (weights must be coco, none or a file path).")
    return torchvision_models.load_checkpoint_file(info.name, path, device, progress)
