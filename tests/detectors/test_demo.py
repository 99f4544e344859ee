"""The shipped demo detectors: manifest integrity, checkpoint format, speed, and that they find
the ground-truth shapes of the committed demo images (IoU with assets/demo/annotations.json)."""

import hashlib
import json
import time

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from detviewer.detectors.demo import DEMO_CLASSES, DEMO_MODELS, checkpoint_path, load_demo_detector, save_checkpoint
from detviewer.errors import CheckpointError, DetectorError
from detviewer.resources import assets_dir, models_dir

# Each model must find this share of the demo images' shapes (IoU >= 0.5, right class, score >= 0.3,
# a usual display threshold); set from the held-out AP50 targets of issue 4 (0.93 / 0.93 / 0.85), a
# little below them: the 4 demo images hold 20 shapes (demo-yolo finds 17 of them).
MIN_RECALL = {"demo-frcnn": 0.9, "demo-ssd": 0.9, "demo-yolo": 0.8}
# Share of confident detections (score >= 0.9) that match a shape; lower scores hold the expected
# false positives (on the held-out split demo-frcnn is 97 % right above 0.9, 82 % above 0.5).
MIN_PRECISION, SHOWN = 0.85, 0.3
# YOLO's class-specific score is confidence (trained towards the IoU) x class probability, which runs
# lower than a softmax head's.
CONFIDENT = {"demo-frcnn": 0.9, "demo-ssd": 0.9, "demo-yolo": 0.5}


@pytest.fixture(scope="module")
def manifest():
    return json.loads((models_dir() / "manifest.json").read_text())


@pytest.fixture(scope="module")
def demo_scenes():
    folder = assets_dir() / "demo"
    coco = json.loads((folder / "annotations.json").read_text())
    scenes = []
    for image in coco["images"]:
        rgb = cv2.imread(str(folder / image["file_name"]), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
        scenes.append((rgb, boxes, np.array([a["category_id"] for a in anns])))
    names = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    assert ["__background__"] + names == list(DEMO_CLASSES)
    return scenes


def test_manifest_describes_every_checkpoint_and_sha256_matches(manifest):
    entries = {m["name"]: m for m in manifest["models"]}
    assert set(entries) == set(DEMO_MODELS)
    for name, entry in entries.items():
        path = models_dir() / entry["file"]
        assert path == checkpoint_path(name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["size_bytes"] <= 15 * 1024 * 1024
        assert entry["classes"] == list(DEMO_CLASSES)
        assert entry["training_command"].startswith(f"detviewer train-demo {name} ") and "--seed" in entry["training_command"]
        assert entry["held_out"]["count"] >= 300 and entry["held_out"]["seed"] != entry["seed"]
        for key in ("AP", "AP50", "AP_small", "AP_medium", "AP_large"):
            assert 0.0 <= entry["metrics"][key] <= 1.0


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_checkpoint_loads_with_weights_only(name):
    payload = torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)
    assert payload["format"] == "detviewer-demo" and payload["arch"] == name
    assert payload["class_names"] == list(DEMO_CLASSES)
    assert payload["meta"]["input_size"] in (224, 256)
    assert all(isinstance(v, torch.Tensor) for v in payload["model"].values())


def _matches(inference, gt_boxes, gt_labels, min_score):
    """IoU >= 0.5 with the same class: (ground truths found, detections that are right, detections)."""
    det = inference.detections[inference.detections.scores >= min_score]
    if len(det) == 0:
        return 0, 0, 0
    iou = box_iou(torch.from_numpy(gt_boxes), torch.from_numpy(det.xyxy)).numpy()
    iou[gt_labels[:, None] != det.labels[None, :]] = 0.0
    return int((iou.max(axis=1) >= 0.5).sum()), int((iou.max(axis=0) >= 0.5).sum()), len(det)


@pytest.fixture
def one_thread():
    # one thread: timings stay meaningful when other processes share the cores
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_shipped_model_finds_the_demo_shapes_quickly(name, demo_scenes, one_thread):
    # unloaded 2-core CPU: ~40 ms (frcnn), ~20 ms (ssd), ~10 ms (yolo); the bound leaves room for a busy machine
    detector = load_demo_detector(name, "default", "cpu")
    assert detector.class_names == DEMO_CLASSES
    detector.infer(demo_scenes[0][0])  # warm-up
    found = correct = predicted = total = 0
    for image, boxes, labels in demo_scenes:
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            inference = detector.infer(image)
            seconds.append(time.perf_counter() - start)
        assert min(seconds) < 1.0, f"{name} took {min(seconds):.3f} s"
        assert inference.image_size == image.shape[:2]
        found += _matches(inference, boxes, labels, SHOWN)[0]
        _, c, p = _matches(inference, boxes, labels, CONFIDENT[name])
        correct, predicted, total = correct + c, predicted + p, total + len(boxes)
    assert found / total >= MIN_RECALL[name], f"{name} found {found} of {total} shapes"
    assert predicted >= total // 2, f"{name} is confident about only {predicted} of {total} shapes"
    assert correct / predicted >= MIN_PRECISION, f"{name}: {correct} of {predicted} confident detections are right"


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_internals_for_the_views(name, demo_scenes):
    inference = load_demo_detector(name, "default", "cpu").infer(demo_scenes[0][0])
    h, w = demo_scenes[0][0].shape[:2]
    if name == "demo-frcnn":
        assert len(inference.anchors) == 4 and len(inference.proposals) > 0
        assert [a.stride for a in inference.anchors] == [(4, 4), (8, 8), (16, 16), (32, 32)]
    elif name == "demo-ssd":
        assert [a.feature_size for a in inference.anchors] == [(32, 32), (16, 16), (8, 8), (4, 4)]
    else:
        assert inference.grid.boxes.shape == (7, 7, 2, 4) and inference.grid.class_probs.shape == (7, 7, 6)
        assert inference.grid.cell_size == pytest.approx((h / 7, w / 7))
    assert inference.scale == pytest.approx((inference.input_size[0] / h, inference.input_size[1] / w))


def test_load_errors_are_one_sentence(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_demo_detector("demo-yolo", str(tmp_path / "missing.pt"))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_demo_detector("demo-yolo", str(garbage))
    other = tmp_path / "ssd.pt"
    torch.save({"format": "detviewer-demo", "arch": "demo-ssd", "class_names": list(DEMO_CLASSES), "meta": {},
                "model": {"head.weight": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="holds a 'demo-ssd' model, not 'demo-yolo'"):
        load_demo_detector("demo-yolo", str(other))
    plain = tmp_path / "plain.pt"
    torch.save({"conv.weight": torch.zeros(2, 3, 1, 1)}, plain)
    with pytest.raises(CheckpointError):
        load_demo_detector("demo-yolo", str(plain))
    with pytest.raises(DetectorError, match="not a demo model"):
        load_demo_detector("demo-detr")


def test_random_init_and_mismatched_weights(tmp_path):
    from detviewer.detectors.demo import build_demo_model

    detector = load_demo_detector("demo-yolo", "none")
    assert detector.infer(np.zeros((64, 80, 3), np.uint8)).image_size == (64, 80)
    wrong = tmp_path / "wrong.pt"
    model = build_demo_model("demo-yolo", num_classes=4)  # 3 shape classes: head has the wrong size
    save_checkpoint(wrong, "demo-yolo", model, {"input_size": 224})
    with pytest.raises(CheckpointError, match="does not fit the demo-yolo architecture"):
        load_demo_detector("demo-yolo", str(wrong))
