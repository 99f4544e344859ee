"""``detviewer eval --model export.onnx --data data.yaml`` gives ``yolo val``'s mAP50 and mAP50-95.

The export (tests/data/shapes_yolov8n_160.onnx, 12 MB) is a YOLOv8n trained by Ultralytics 8.4 on
``detviewer make-shapes`` data (160 px, ~11 epochs on a CPU: a weak model, which is what a parity check wants:
many low-scoring boxes, so the score floor, multi-label NMS and the matching all matter) and exported with a
fixed 160 x 160 input. The validation set is generated here, deterministically (60 images, seed 12,
``make-shapes --format yolo --size 160``); its content hash must equal the one recorded with the reference.

Without Ultralytics (CI) the reference is tests/data/shapes_yolov8n_val_reference.json (``yolo val``'s numbers,
its command and versions, written by ultralytics_val_reference.py); with Ultralytics installed ``yolo val`` runs
live in a child process as well. The framework's numbers must be within 0.005 of ``yolo val``'s and
pycocotools' AP50 on the same detections within 0.02 of its mAP50.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detviewer.cli import main

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
MODEL = DATA / "shapes_yolov8n_160.onnx"
REFERENCE = json.loads((DATA / "shapes_yolov8n_val_reference.json").read_text())
FRAMEWORK_TOLERANCE, PYCOCOTOOLS_TOLERANCE = 0.005, 0.02

pytestmark = pytest.mark.slow


def dataset_hash(root: Path) -> str:
    """sha256 over the relative path and bytes of every image and label file, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".png", ".txt")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def val_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes-val")
    spec = REFERENCE["dataset"]
    assert main(["make-shapes", str(root), "--count", str(spec["count"]), "--seed", str(spec["seed"]),
                 "--size", str(spec["size"]), "--format", "yolo", "--quiet"]) == 0
    assert dataset_hash(root) == spec["sha256"], "make-shapes no longer writes the data the reference was made on"
    return root / "data.yaml"


def _eval_json(capsys, data: Path, *extra: str) -> tuple[dict, str]:
    capsys.readouterr()
    assert main(["eval", "--model", str(MODEL), "--data", str(data), "--no-cache", "--json", *extra]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


@pytest.fixture(scope="module")
def ours(val_data):
    """(eval --json, stderr) under the export's own protocol (a child process: module fixtures get no capsys)."""
    done = subprocess.run([sys.executable, "-m", "detviewer", "eval", "--model", str(MODEL), "--data", str(val_data),
                           "--no-cache", "--json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(HERE.parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout), done.stderr


def _check(report: dict, reference: dict) -> None:
    framework, coco = report["framework"]["framework"], report["framework"]["pycocotools"]
    assert abs(framework["mAP50"] - reference["mAP50"]) <= FRAMEWORK_TOLERANCE, (framework, reference)
    assert abs(framework["mAP50-95"] - reference["mAP50-95"]) <= FRAMEWORK_TOLERANCE, (framework, reference)
    assert abs(coco["AP50"] - reference["mAP50"]) <= PYCOCOTOOLS_TOLERANCE, (coco, reference)
    assert (coco["AP50"], coco["AP"]) == pytest.approx((report["stats"]["AP50"], report["stats"]["AP"]), abs=1e-12)


def test_eval_gives_yolo_vals_numbers_recorded(ours):
    report, err = ours
    assert report["protocol"]["name"] == "ultralytics-val"
    assert "protocol ultralytics-val: as Ultralytics' yolo val runs an export" in err
    _check(report, REFERENCE)
    print(f"\nyolo val (recorded, Ultralytics {REFERENCE['versions']['ultralytics']}): mAP50 {REFERENCE['mAP50']:.4f} "
          f"mAP50-95 {REFERENCE['mAP50-95']:.4f}; detviewer: {report['framework']['framework']}; pycocotools "
          f"{report['framework']['pycocotools']}\n{report['framework']['sentence']}")


@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None,
                    reason="Ultralytics is not installed; the recorded reference is compared instead")
def test_eval_gives_yolo_vals_numbers_live(ours, val_data, tmp_path):
    done = subprocess.run([sys.executable, str(HERE / "ultralytics_val_reference.py"), str(MODEL), str(val_data),
                           str(REFERENCE["imgsz"]), str(tmp_path)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    live = json.loads(done.stdout.strip().splitlines()[-1])
    _check(ours[0], live)
    assert live["mAP50"] == pytest.approx(REFERENCE["mAP50"], abs=1e-3), "the recorded reference is stale"


def test_predicts_floor_is_what_made_the_number_low(capsys, val_data):
    """The issue's run: predict's 0.25 floor (293 boxes instead of thousands) scores lower than yolo val."""
    report, err = _eval_json(capsys, val_data, "--protocol", "ultralytics-predict")
    assert report["protocol"]["name"] == "ultralytics-predict" and "protocol ultralytics-predict" in err
    assert report["framework"]["framework"]["mAP50"] < REFERENCE["mAP50"] - 0.01
