"""Ultralytics' own mAP (evaluation.ultralytics_metrics) and the provenance sentence.

Hand-computed cases (a perfect detector scores 0.995 under Ultralytics' trapezoid rule, 1.0 under pycocotools;
a detection on a crowd region; detections past pycocotools' 100 per image; match_predictions' greedy order),
the pycocotools end of the chain against pycocotools itself, and — when Ultralytics is installed — the
Ultralytics end against Ultralytics' own ap_per_class / match_predictions, run in a child process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from detviewer.core.coco_eval import evaluate_coco
from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.ultralytics_metrics import compute_ap, explain, match_predictions, ultralytics_map


def _gt(rows, crowd=None) -> GroundTruthBoxes:
    """rows: (image, class, x, y, w, h)."""
    a = np.asarray(rows, np.float64).reshape(-1, 6)
    n = len(a)
    crowd = np.zeros(n, bool) if crowd is None else np.asarray(crowd, bool)
    return GroundTruthBoxes(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:], a[:, 4] * a[:, 5], crowd, crowd,
                            np.arange(1, n + 1))


def _dt(rows) -> DetectionBoxes:
    """rows: (image, class, x, y, w, h, score)."""
    a = np.asarray(rows, np.float64).reshape(-1, 7)
    return DetectionBoxes(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:6], a[:, 6])


def _random_case(seed: int, images: int = 30, classes: int = 4, crowd_every: int = 0):
    rng = np.random.default_rng(seed)
    gts, dts = [], []
    for i in range(images):
        for _ in range(rng.integers(0, 6)):
            x, y = rng.uniform(0, 200, 2)
            w, h = rng.uniform(8, 80, 2)
            c = int(rng.integers(0, classes))
            gts.append((i, c, x, y, w, h))
            for _ in range(rng.integers(0, 4)):
                j = rng.normal(0, 5, 4)
                dc = c if rng.random() < 0.8 else int(rng.integers(0, classes))
                dts.append((i, dc, x + j[0], y + j[1], max(w + j[2], 2), max(h + j[3], 2), float(np.float32(rng.random()))))
        for _ in range(rng.integers(0, 4)):  # background false positives
            dts.append((i, int(rng.integers(0, classes)), *rng.uniform(0, 200, 2), *rng.uniform(5, 50, 2),
                        float(np.float32(rng.random() * 0.5))))
    crowd = np.zeros(len(gts), bool)
    if crowd_every:
        crowd[::crowd_every] = True
    return _gt(gts, crowd), _dt(dts), images, classes


def test_perfect_detections_score_0995_under_ultralytics_and_1_under_pycocotools():
    gt = _gt([(0, 0, 10, 10, 50, 40), (0, 1, 100, 100, 30, 30), (1, 0, 5, 5, 20, 20)])
    dt = _dt([(*row[:6], 0.9) for row in [(0, 0, 10, 10, 50, 40), (0, 1, 100, 100, 30, 30), (1, 0, 5, 5, 20, 20)]])
    m = ultralytics_map(gt, dt, 2)
    # the envelope is 1 up to recall 1 and its sentinel drops to 0 at recall 1: the trapezoid loses half a step
    assert m.map50 == pytest.approx(0.995) and m.map == pytest.approx(0.995)
    p = explain(gt, dt, 2)
    assert p.coco == pytest.approx((1.0, 1.0))
    steps = {name: (d50, d) for name, d50, d in p.steps}
    assert steps["interpolation"] == pytest.approx((-0.005, -0.005))
    assert all(v == (0.0, 0.0) for k, v in steps.items() if k != "interpolation")
    assert "interpolation -0.005" in p.sentence() and "pycocotools gives 1.000 / 1.000" in p.sentence()


def test_compute_ap_hand_table():
    # recall 0.5 at precision 1, then recall 1 at precision 0.5: the envelope is 1 on [0, 0.5], then falls
    # linearly (np.interp between the points (0.5, 1) and (1, 0.5)) and drops to 0 at recall 1 itself
    x = np.linspace(0, 1, 101)
    y = np.where(x <= 0.5, 1.0, 1.0 - (x - 0.5))
    y[-1] = 0.0
    assert compute_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(np.trapezoid(y, x))


def test_match_predictions_greedy_by_confidence_and_first_target_on_ties():
    # two targets of class 0; detection 0 (higher confidence) overlaps both, target 1 best (0.82); detection 1
    # only target 1 (0.92): up to 0.8 detection 0 has taken target 1 and detection 1 finds nothing; above 0.8
    # detection 0 matches nothing, so target 1 is still free for detection 1 at 0.85 and 0.9
    iou = np.array([[0.6, 0.0],
                    [0.82, 0.92]], np.float32)  # (targets, detections)
    correct = match_predictions(np.array([0, 0]), np.array([0, 0]), iou)
    assert correct[0, :7].all() and not correct[0, 7:].any()
    assert not correct[1, :7].any() and correct[1, 7:9].all() and not correct[1, 9]
    # equal IoU with two targets: the first in label order is taken, so a later detection that only
    # overlaps the first finds it claimed
    tie = match_predictions(np.array([1, 1]), np.array([1, 1]), np.array([[0.72, 0.72], [0.72, 0.0]], np.float32))
    assert tie[0, :5].all() and not tie[0, 5:].any()
    assert not tie[1].any()
    # another class never matches
    assert not match_predictions(np.array([2]), np.array([1]), np.array([[0.99]], np.float32)).any()


def test_crowd_detection_is_ignored_by_pycocotools_and_a_false_positive_for_ultralytics():
    gt = _gt([(0, 0, 0, 0, 40, 40), (0, 0, 100, 100, 80, 80)], crowd=[False, True])
    # the crowd-region detection scores highest: an FP first halves Ultralytics' precision
    dt = _dt([(0, 0, 110, 110, 40, 40, 0.95), (0, 0, 0, 0, 40, 40, 0.9)])
    p = explain(gt, dt, 1)
    assert p.coco == pytest.approx((1.0, 1.0))
    steps = {name: (d50, d) for name, d50, d in p.steps}
    assert steps["crowd handling"][0] < -0.4  # 1.0 -> about 0.5
    assert ultralytics_map(gt, dt, 1).map50 == pytest.approx(p.framework[0])
    assert "crowd handling" in p.sentence()


def test_detections_past_100_per_image_count_only_for_ultralytics():
    # 120 targets of one class in one image, found in falling score order: pycocotools sees the first 100
    boxes = [(0, 0, 10 * (i % 12), 10 * (i // 12), 8, 8) for i in range(120)]
    gt = _gt(boxes)
    dt = _dt([(*b, 1.0 - i / 1000) for i, b in enumerate(boxes)])
    p = explain(gt, dt, 1)
    assert p.coco[0] == pytest.approx(evaluate_coco(gt, dt, 1, 1).stats["AP50"])
    assert p.coco[0] < 0.9
    steps = {name: (d50, d) for name, d50, d in p.steps}
    assert steps["max detections"][0] > 0.15
    assert "max detections" in p.sentence()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_chain_starts_at_pycocotools_and_ends_at_ultralytics_map(seed):
    gt, dt, images, classes = _random_case(seed, crowd_every=9)
    p = explain(gt, dt, classes)
    stats = evaluate_coco(gt, dt, images, classes).stats  # pycocotools' numbers, to the bit (core.coco_eval)
    assert p.coco == pytest.approx((stats["AP50"], stats["AP"]), abs=1e-12)
    m = ultralytics_map(gt, dt, classes)
    assert p.framework == pytest.approx((m.map50, m.map), abs=1e-12)
    total50 = sum(s[1] for s in p.steps)
    assert p.coco[0] + total50 == pytest.approx(p.framework[0], abs=1e-12)
    assert p.floor is not None and p.floor[1] <= 1e-12  # dropping low-scoring detections never raises AP here


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None, reason="Ultralytics is not installed")
def test_ultralytics_map_equals_ultralytics_own_functions(tmp_path):
    cases = {}
    for seed in (3, 4, 5):
        gt, dt, images, classes = _random_case(seed, crowd_every=7)
        m = ultralytics_map(gt, dt, classes)
        keep = ~gt.crowd
        cases[seed] = {"images": images, "gt": np.c_[gt.image_index, gt.category_index, gt.xywh][keep].tolist(),
                       "dt": np.c_[dt.image_index, dt.category_index, dt.xywh, dt.scores].tolist(),
                       "ours": [m.map50, m.map]}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = '''
import json, sys
import numpy as np, torch
from ultralytics.models.yolo.detect.val import DetectionValidator
from ultralytics.utils.metrics import ap_per_class, box_iou
cases = json.load(open(sys.argv[1]))
v = DetectionValidator(); v.iouv = torch.linspace(0.5, 0.95, 10)
out = {}
for seed, c in cases.items():
    gt, dt = np.array(c["gt"]).reshape(-1, 6), np.array(c["dt"]).reshape(-1, 7)
    tps, confs, pcls, tcls = [], [], [], []
    for i in range(c["images"]):
        g = gt[gt[:, 0] == i]
        d = dt[dt[:, 0] == i]
        d = d[np.argsort(-d[:, 6], kind="stable")]
        xy = lambda a: torch.tensor(np.c_[a[:, 2:4], a[:, 2:4] + a[:, 4:6]], dtype=torch.float32)
        if len(g) and len(d):
            tp = v.match_predictions(torch.tensor(d[:, 1]), torch.tensor(g[:, 1]), box_iou(xy(g), xy(d))).numpy()
        else:
            tp = np.zeros((len(d), 10), bool)
        tps.append(tp); confs.append(d[:, 6].astype(np.float32)); pcls.append(d[:, 1]); tcls.append(g[:, 1])
    ap = ap_per_class(np.concatenate(tps), np.concatenate(confs), np.concatenate(pcls), np.concatenate(tcls))[5]
    out[seed] = [float(ap[:, 0].mean()), float(ap.mean())]
print(json.dumps(out))
'''
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "cases.json")], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(tmp_path / "cfg")})
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    for seed, case in cases.items():
        assert case["ours"] == pytest.approx(theirs[str(seed)], abs=1e-12), seed
