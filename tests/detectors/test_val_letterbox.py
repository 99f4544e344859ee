"""``yolo val``'s preprocessing (letterbox.val_letterbox_geometry): a hand table of shapes for CI, and with
Ultralytics installed its own val dataset on the same images (pixels to the bit, shapes, gains, padding)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detviewer.detectors.letterbox import letterbox_image, val_letterbox_geometry

HERE = Path(__file__).resolve().parent
SHAPES = [(160, 160), (480, 640), (301, 517), (517, 301), (100, 90), (33, 700)]

# (image hw, rectangular) -> (input hw, pre-resize hw, top, left); imgsz 160, stride 32
TABLE = {
    ((160, 160), False): ((160, 160), None, 0, 0),
    ((160, 160), True): ((192, 192), None, 16, 16),  # val's half-stride pad: ceil(160 / 32 + 0.5) * 32
    ((480, 640), False): ((160, 160), (120, 160), 20, 0),
    ((480, 640), True): ((160, 192), (120, 160), 20, 16),
    ((301, 517), False): ((160, 160), (94, 160), 33, 0),  # ceil(517 * 160 / 517) = 161, capped at imgsz
    ((301, 517), True): ((128, 192), (94, 160), 17, 16),
    ((100, 90), False): ((160, 160), (160, 144), 0, 8),  # small images are scaled up first (load_image)...
    ((100, 90), True): ((192, 160), (160, 144), 16, 8),  # ...LetterBox itself never scales up
}


@pytest.mark.parametrize("key", list(TABLE))
def test_val_geometry_hand_table(key):
    (hw, rect), (input_hw, pre, top, left) = key, TABLE[key]
    g = val_letterbox_geometry(hw, (160, 160), 32, rect)
    assert (g.input_hw, g.pre_resize_hw, g.top, g.left) == (input_hw, pre, top, left)
    resized = pre or hw
    assert g.gains == pytest.approx((resized[1] / hw[1], resized[0] / hw[0]))
    # the way back is the exact inverse of how val moves a label into the input
    box = np.array([[10.0, 20.0, 50.0, 70.0]], np.float32)
    forward = box * np.array(g.gains * 2, np.float32)[[0, 1, 0, 1]] + np.array([left, top, left, top], np.float32)
    np.testing.assert_allclose(g.mapping().to_original(forward), box, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None, reason="Ultralytics is not installed")
def test_val_letterbox_equals_ultralytics_val_dataset(tmp_path):
    from ultralytics_val_letterbox_reference import noise_image

    done = subprocess.run([sys.executable, str(HERE / "ultralytics_val_letterbox_reference.py"), str(tmp_path), "160",
                           *[f"{h},{w}" for h, w in SHAPES]], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "YOLO_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    for row in json.loads(done.stdout.strip().splitlines()[-1]):
        h, w = row["hw"]
        g = val_letterbox_geometry((h, w), (160, 160), 32, row["rect"])
        pixels = letterbox_image(noise_image(h, w), g)
        assert list(g.input_hw) == row["input_hw"], row
        assert (g.left, g.top) == tuple(row["pad"]), row
        assert g.gains == pytest.approx(tuple(row["gains"]), abs=1e-12), row
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == row["sha256"], row
