"""train-demo end to end on a tiny budget (seconds), the schedule, and its user errors."""

import hashlib
import json

import pytest
import torch

from detviewer.cli import main
from detviewer.detectors.demo import build_demo_model, load_demo_detector, save_checkpoint
from detviewer.training.loop import _lr_factor


def test_tiny_training_run_writes_a_loadable_checkpoint_and_manifest(tmp_path, capsys):
    out = tmp_path / "models" / "demo-yolo.pt"
    frcnn = tmp_path / "frcnn.pt"
    save_checkpoint(frcnn, "demo-frcnn", build_demo_model("demo-frcnn"), {})
    code = main(["train-demo", "demo-yolo", "--out", str(out), "--seed", "5", "--iterations", "2", "--batch-size", "2",
                 "--eval-every", "1", "--val-count", "2", "--test-count", "2", "--threads", "1",
                 "--backbone-from", str(frcnn)])
    assert code == 0
    stdout = capsys.readouterr().out
    assert f"backbone: 42 tensors from {frcnn}" in stdout
    assert "iter 2/2 loss" in stdout and "img/s" in stdout and "val @ 1:" in stdout and "held-out test" in stdout
    payload = torch.load(out, weights_only=True)
    assert payload["format"] == "detviewer-demo" and payload["arch"] == "demo-yolo"
    assert payload["class_names"][0] == "__background__" and payload["meta"]["input_size"] == 224
    assert set(payload["meta"]["test"]) >= {"AP", "AP50", "AP_small", "AP_medium", "AP_large"}
    manifest = json.loads((out.parent / "manifest.json").read_text())
    (entry,) = manifest["models"]
    assert entry["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert entry["training_command"].startswith("detviewer train-demo demo-yolo") and "--seed 5" in entry["training_command"]
    assert entry["training_command"].endswith(f"--backbone-from {frcnn}")
    assert entry["held_out"] == {"seed": 1001, "count": 2, "image_size": 256}
    detector = load_demo_detector("demo-yolo", str(out), "cpu")
    assert detector.class_names == tuple(payload["class_names"])


def test_training_on_the_test_seed_is_refused(tmp_path, capsys):
    code = main(["train-demo", "demo-ssd", "--out", str(tmp_path / "x.pt"), "--seed", "1001", "--iterations", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "must differ from the validation and test seeds" in err


def test_unknown_model_is_a_usage_error(capsys):
    assert main(["train-demo", "demo-detr", "--out", "x.pt"]) == 2
    assert "invalid choice: 'demo-detr'" in capsys.readouterr().err


def test_learning_rate_schedule():
    # warm-up 1/10 ... 10/10, then cosine from 1.0 down to 0.02 at the last iteration
    assert _lr_factor(0, 10, 110) == pytest.approx(0.1)
    assert _lr_factor(9, 10, 110) == pytest.approx(1.0)
    assert _lr_factor(10, 10, 110) == pytest.approx(1.0)
    assert _lr_factor(60, 10, 110) == pytest.approx(0.02 + 0.98 * 0.5)
    assert _lr_factor(110, 10, 110) == pytest.approx(0.02)
