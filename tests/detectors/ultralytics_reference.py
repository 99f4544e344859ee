"""What Ultralytics itself computes, run in a child process (test_ultralytics_parity.py starts it).

Usage: python ultralytics_reference.py WORK_DIR IMAGE.png ...   (writes WORK_DIR/reference.json)

Builds tiny YOLOv8 / YOLO11 / YOLO26 models from their yaml (no weights, no network), brings the untrained
networks to life (batch-norm statistics measured on generated images; class-score bias and gain set so a few
dozen boxes per image pass predict's 0.25), exports each to ONNX (320 x 320, 256 x 320, dynamic=True,
nms=True; YOLO26 also nms=False, its end-to-end head) and runs Ultralytics' ``predict`` on every image file.
It also records Ultralytics' LetterBox and scale_boxes for a table of shapes.

A separate process because importing Ultralytics changes global state (numpy print options, OpenCV's
thread count, OMP_NUM_THREADS) that the rest of the test session must not inherit; and there the
environment keeps it offline: no update checks, no auto-installs, no downloads, settings in WORK_DIR.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

FAMILIES = ("yolov8n", "yolo11n", "yolo26n")
EXPORTS = {  # kind -> Ultralytics export arguments
    "fixed-320x320": {"imgsz": 320},
    "rect-256x320": {"imgsz": (256, 320)},
    "dynamic": {"imgsz": 320, "dynamic": True},
    "nms": {"imgsz": 320, "nms": True},
}
END_TO_END = {"end2end": {"imgsz": 320, "nms": False}}  # only heads with a one-to-one branch (YOLO26)
PREDICT = {"imgsz": 320, "conf": 0.25, "iou": 0.7}  # imgsz only matters for the dynamic export
CLASS_BIAS, CLASS_GAIN = -5.0, 1.5  # untrained class scores: a few dozen boxes per image above 0.25
LETTERBOX_SHAPES = [(240, 320), (299, 517), (517, 299), (301, 517), (128, 128), (853, 480), (1, 3000), (333, 1000)]
LETTERBOX_TARGETS = [(320, 320), (256, 320), (640, 640)]


def _offline(work: Path) -> None:
    os.environ["YOLO_OFFLINE"] = "1"  # utils.is_online() -> False: no events, no update or hub checks
    os.environ["YOLO_AUTOINSTALL"] = "0"  # check_requirements warns instead of running pip
    os.environ["YOLO_VERBOSE"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(work / "config")  # settings.json here, not in the user's home


def _calibration_batch(count: int = 8, size: int = 320):
    """(count, 3, size, size) float 0..1: coloured rectangles on dark noise, like the test images."""
    import cv2
    import numpy as np
    import torch

    rng = np.random.default_rng(1234)
    images = []
    for _ in range(count):
        image = (rng.random((size, size, 3)) * 60).astype(np.uint8)
        for _ in range(6):
            x, y = (int(v) for v in rng.integers(0, size - 20, 2))
            w, h = (int(v) for v in rng.integers(15, size // 3, 2))
            cv2.rectangle(image, (x, y), (x + w, y + h), tuple(int(c) for c in rng.integers(80, 255, 3)), -1)
        images.append(image)
    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy()).float() / 255


def _bring_to_life(model, batch) -> None:
    """Untrained eval-mode YOLO outputs the same box everywhere (activations shrink layer by layer): measure
    batch-norm statistics on real-looking images so features carry the image, then set the class-score bias."""
    import torch

    net = model.model
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # cumulative average over the batch
        net.train()
        net(batch)
        net.eval()
        head = net.model[-1]
        for branch in (head.cv3, getattr(head, "one2one_cv3", None)):
            for level in branch or ():
                level[-1].bias.fill_(CLASS_BIAS)
                level[-1].weight.mul_(CLASS_GAIN)


def _detections(result) -> dict:
    boxes = result.boxes
    return {"xyxy": boxes.xyxy.cpu().numpy().tolist(), "conf": boxes.conf.cpu().numpy().tolist(),
            "cls": boxes.cls.cpu().numpy().astype(int).tolist()}


def _export_and_predict(work: Path, images: list[str]) -> list[dict]:
    import torch
    from ultralytics import YOLO

    batch = _calibration_batch()
    records = []
    for family in FAMILIES:
        torch.manual_seed(0)
        model = YOLO(f"{family}.yaml")
        _bring_to_life(model, batch)
        kinds = dict(EXPORTS)
        if getattr(model.model.model[-1], "one2one_cv3", None) is not None:
            kinds.update(END_TO_END)
        for kind, args in kinds.items():
            exported = Path(model.export(format="onnx", simplify=False, **args))
            path = exported.rename(work / f"{family}-{kind}.onnx")
            runner = YOLO(str(path), task="detect")
            results = {Path(image).name: _detections(runner.predict(image, verbose=False, **PREDICT)[0])
                       for image in images}
            records.append({"family": family, "kind": kind, "path": str(path), "results": results})
    return records


def letterbox_test_image(image_hw):
    """A noise image (H, W, 3) uint8 that depends only on its shape (the test rebuilds it)."""
    import numpy as np

    return np.random.default_rng(image_hw[0] * 10007 + image_hw[1]).integers(0, 256, (*image_hw, 3), dtype=np.uint8)


def _letterbox_table() -> list[dict]:
    import numpy as np
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.ops import scale_boxes

    rng = np.random.default_rng(7)
    rows = []
    for image_hw in LETTERBOX_SHAPES:
        image = letterbox_test_image(image_hw)
        for target in LETTERBOX_TARGETS:
            for auto in (False, True):
                letterbox = LetterBox(target, auto=auto, stride=32)
                params = letterbox.get_params({"img": image})
                out = letterbox(image=image.copy())
                boxes = rng.uniform(-20, max(out.shape[:2]) + 20, (16, 4)).astype(np.float32)
                boxes[:, 2:] = boxes[:, :2] + np.abs(boxes[:, 2:] - boxes[:, :2])
                mapped = scale_boxes(out.shape[:2], boxes.copy(), image_hw)
                rows.append({"image_hw": list(image_hw), "target_hw": list(target), "auto": auto,
                             "input_hw": list(out.shape[:2]), "resized_hw": list(params["new_unpad"][::-1]),
                             "top": params["top"], "left": params["left"],
                             "image_sha256": hashlib.sha256(out.tobytes()).hexdigest(),
                             "boxes": boxes.tolist(), "mapped": np.asarray(mapped, np.float32).tolist()})
    return rows


def main(argv: list[str]) -> int:
    work, images = Path(argv[0]), argv[1:]
    _offline(work)
    import ultralytics

    document = {"ultralytics": ultralytics.__version__, "exports": _export_and_predict(work, images),
                "letterbox": _letterbox_table()}
    (work / "reference.json").write_text(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
