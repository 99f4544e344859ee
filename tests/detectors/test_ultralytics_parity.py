"""detviewer runs Ultralytics' ONNX exports exactly as Ultralytics' ``predict`` runs them.

Real exports of tiny YOLOv8 / YOLO11 / YOLO26 models (made by ultralytics_reference.py in a child process:
fixed 320 x 320, rectangular 256 x 320, dynamic=True, nms=True and YOLO26's end-to-end head) on square,
wide and tall generated images: every Ultralytics box must have a detviewer box of the same class with
IoU >= 0.99 and |score difference| < 1e-3, and no box more. Also Ultralytics' LetterBox / scale_boxes against
detviewer.detectors.letterbox on a table of shapes. Skipped when Ultralytics is not installed (CI).

Run: .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/detectors/test_ultralytics_parity.py
(-s prints the counts per export kind x image shape).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

INSTALL = ("pip install -e '.[ultralytics]' && pip install --no-deps ultralytics  (never plain 'pip install "
           "ultralytics': it pulls in opencv-python, whose Qt plugins break PySide6)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None,
                       reason=f"Ultralytics is not installed; to compare against it: {INSTALL}"),
]

HERE = Path(__file__).parent
IMAGE_SHAPES = {  # shape class -> (H, W) of the generated images
    "square": [(320, 320), (411, 411), (200, 200)],
    "wide": [(301, 517), (480, 853), (250, 640)],
    "tall": [(517, 301), (853, 480), (640, 250)],
}
MIN_IOU, MAX_SCORE_DIFF = 0.99, 1e-3
REFERENCE_TIMEOUT_S = 600


def generated_image(h: int, w: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB: coloured rectangles (some crossing the border) on dark noise."""
    import cv2

    rng = np.random.default_rng(seed)
    image = (rng.random((h, w, 3)) * 60).astype(np.uint8)
    for _ in range(8):
        x, y = int(rng.integers(-w // 8, w - 10)), int(rng.integers(-h // 8, h - 10))
        bw, bh = int(rng.integers(15, w // 2)), int(rng.integers(15, h // 2))
        cv2.rectangle(image, (x, y), (x + bw, y + bh), tuple(int(c) for c in rng.integers(80, 255, 3)), -1)
    return image


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(reference.json as a dict, {image file name: (shape class, RGB image)})."""
    import cv2

    work = tmp_path_factory.mktemp("ultralytics")
    images, paths = {}, []
    for seed, (shape_class, shapes) in enumerate(IMAGE_SHAPES.items()):
        for i, (h, w) in enumerate(shapes):
            image = generated_image(h, w, seed=100 * seed + i)
            path = work / f"{shape_class}-{h}x{w}.png"
            cv2.imwrite(str(path), image[:, :, ::-1])  # PNG: lossless, so both read the same pixels
            images[path.name] = (shape_class, image)
            paths.append(str(path))
    done = subprocess.run([sys.executable, str(HERE / "ultralytics_reference.py"), str(work), *paths],
                          capture_output=True, text=True, timeout=REFERENCE_TIMEOUT_S,
                          env={**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"})
    assert done.returncode == 0, f"ultralytics_reference.py failed:\n{done.stderr[-3000:]}"
    return json.loads((work / "reference.json").read_text()), images


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M) IoU, via torchvision.ops.box_iou."""
    import torch
    from torchvision.ops import box_iou

    return box_iou(torch.from_numpy(np.asarray(a, np.float64).reshape(-1, 4)),
                   torch.from_numpy(np.asarray(b, np.float64).reshape(-1, 4))).numpy()


def match_counts(theirs: dict, ours) -> dict:
    """Greedy one-to-one match of Ultralytics' boxes (best first) to ours: same class, IoU >= 0.99 (or the same
    box within 0.01 px), |Δscore| < 1e-3. Returns counts and the largest coordinate difference of a match."""
    boxes, scores, labels = np.asarray(theirs["xyxy"]).reshape(-1, 4), np.asarray(theirs["conf"]), theirs["cls"]
    ious = _iou(boxes, ours.xyxy) if len(boxes) and len(ours) else np.zeros((len(boxes), len(ours)))
    # an untrained YOLO26 head can predict inverted boxes (x2 < x1) that Ultralytics keeps: IoU says nothing
    # about those, so a box equal to 0.01 px also matches
    same = (np.abs(boxes[:, None] - ours.xyxy[None]).max(axis=2) <= 0.01) if len(ours) else ious.astype(bool)
    used, matched, worst_px = set(), 0, 0.0
    for i in np.argsort(-scores, kind="stable"):
        ok = [j for j in range(len(ours)) if j not in used and ours.labels[j] == labels[i]
              and (ious[i, j] >= MIN_IOU or same[i, j]) and abs(float(ours.scores[j]) - scores[i]) < MAX_SCORE_DIFF]
        if ok:
            j = max(ok, key=lambda k: ious[i, k])
            used.add(j)
            matched += 1
            worst_px = max(worst_px, float(np.abs(ours.xyxy[j] - boxes[i]).max()))
    return {"theirs": len(boxes), "ours": len(ours), "matched": matched, "worst_px": worst_px}


def _table(counts: dict) -> str:
    lines = [f"{'export':<24}{'shape':<8}{'Ultralytics':>12}{'detviewer':>10}{'matched':>9}{'max |Δ| px':>12}"]
    for (name, shape_class), c in sorted(counts.items()):
        lines.append(f"{name:<24}{shape_class:<8}{c['theirs']:>12}{c['ours']:>10}{c['matched']:>9}"
                     f"{c['worst_px']:>12.2g}")
    return "\n".join(lines)


def test_letterbox_and_scale_boxes_match_ultralytics(reference):
    from ultralytics_reference import letterbox_test_image

    from detviewer.detectors.letterbox import (
        clip_boxes,
        letterbox_geometry,
        letterbox_image,
        ultralytics_box_mapping,
    )

    document, _ = reference
    import hashlib

    for row in document["letterbox"]:
        image_hw = tuple(row["image_hw"])
        geometry = letterbox_geometry(image_hw, tuple(row["target_hw"]), 32, row["auto"])
        assert (list(geometry.input_hw), list(geometry.resized_hw), geometry.top, geometry.left) == (
            row["input_hw"], row["resized_hw"], row["top"], row["left"]), row
        pixels = letterbox_image(letterbox_test_image(image_hw), geometry)
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == row["image_sha256"], row["image_hw"]
        mapped = clip_boxes(ultralytics_box_mapping(geometry.input_hw, image_hw).to_original(
            np.asarray(row["boxes"], np.float32)), image_hw)
        np.testing.assert_array_equal(mapped, np.asarray(row["mapped"], np.float32))


def test_every_export_gives_ultralytics_boxes_classes_and_scores(reference):
    from detviewer.detectors.registry import load_detector
    from detviewer.ops.nms import nms_trace

    document, images = reference
    counts = defaultdict(lambda: {"theirs": 0, "ours": 0, "matched": 0, "worst_px": 0.0})
    for export in document["exports"]:
        name = f"{export['family']} {export['kind']}"
        detector = load_detector(export["path"], device="cpu")
        final_only = export["kind"] in ("nms", "end2end")
        assert bool(detector.final_only_reason) == final_only, name
        assert ("yolo_cells" in detector.capabilities) != final_only, name
        for image_name, (shape_class, image) in images.items():
            inference = detector.infer(image)
            got = match_counts(export["results"][image_name], inference.detections)
            total = counts[(name, shape_class)]
            for key in ("theirs", "ours", "matched"):
                total[key] += got[key]
            total["worst_px"] = max(total["worst_px"], got["worst_px"])
            if not final_only:  # replaying NMS on the candidates gives the export's detections back
                cand = inference.candidates
                trace = nms_trace(cand.xyxy, cand.scores, cand.labels, iou_threshold=inference.nms.iou_threshold,
                                  score_threshold=inference.nms.score_threshold,
                                  max_detections=inference.nms.max_detections)
                assert sorted(trace.keep.tolist()) == sorted(inference.yolo_cells.kept.tolist()), (name, image_name)
    print(f"\nUltralytics {document['ultralytics']} predict vs detviewer (IoU >= {MIN_IOU}, |Δscore| < "
          f"{MAX_SCORE_DIFF}), {sum(len(v) for v in IMAGE_SHAPES.values())} images:\n{_table(counts)}")
    assert sum(c["theirs"] for c in counts.values()) > 500, "the exports should find boxes to compare"
    missed = {k: c for k, c in counts.items() if c["matched"] != c["theirs"] or c["ours"] != c["theirs"]}
    assert not missed, _table(missed)
