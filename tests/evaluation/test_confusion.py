"""Confusion matrix: hand-computed small cases and Ultralytics' ConfusionMatrix on random ones."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation


def _evaluation(objects, detections, num_images=2, names=("a", "b", "c")):
    """objects: [(image, class, xywh, crowd)], detections: [(image, class, score, xywh)]."""
    o = list(zip(*objects)) if objects else [[], [], np.zeros((0, 4)), []]
    gt = GroundTruthBoxes(image_index=o[0], category_index=o[1], xywh=np.array(o[2], float).reshape(-1, 4),
                          area=[b[2] * b[3] for b in o[2]], crowd=o[3], difficult=o[3],
                          ids=np.arange(1, len(objects) + 1))
    d = list(zip(*detections)) if detections else [[], [], [], np.zeros((0, 4))]
    dt = DetectionBoxes(image_index=d[0], category_index=d[1], scores=d[2], xywh=np.array(d[3], float).reshape(-1, 4))
    return DatasetEvaluation(gt, dt, num_images, names)


def test_hand_computed_matrix_with_background_row_and_column():
    ev = _evaluation(
        [(0, 0, [0, 0, 10, 10], False), (0, 1, [20, 0, 10, 10], False), (0, 2, [40, 0, 10, 10], False),
         (1, 0, [0, 0, 50, 50], True)],               # a crowd region of class a on image 1
        [(0, 0, 0.9, [0, 0, 10, 10]),                  # a on a: TP
         (0, 0, 0.8, [1, 0, 10, 10]),                  # a again on a (taken): FP on background
         (0, 0, 0.7, [20, 0, 10, 10]),                 # a on b: confusion [a, b]
         (0, 1, 0.2, [40, 0, 10, 10]),                 # b on c below the threshold: not counted -> c missed
         (1, 0, 0.9, [10, 10, 10, 10]),                # a inside the crowd region of a: left out
         (1, 2, 0.6, [60, 60, 10, 10])])               # c on the empty part of image 1: FP
    snap = ev.at(score=0.25, iou=0.45)
    expected = np.array([[1, 1, 0, 1],   # predicted a: true a, true b, -, background
                         [0, 0, 0, 0],
                         [0, 0, 0, 1],
                         [0, 0, 1, 0]])  # background row: c missed
    np.testing.assert_array_equal(snap.confusion.counts, expected)
    # each column of the normalised matrix sums to 1 where it has entries
    np.testing.assert_allclose(snap.confusion.normalized().sum(axis=0), [1, 1, 1, 1])
    # the cell [a, b] is the third detection on the b object of image 0
    (hit,) = snap.cell(0, 1)
    assert (hit.image, hit.detections, hit.ground_truth) == (0, (2,), (1,))
    assert [(h.image, h.ground_truth) for h in snap.cell(3, 2)] == [(0, (2,))]
    assert sorted((h.image, h.detections) for h in snap.cell(2, 3)) == [(1, (5,))]
    # lowering the threshold lets the b-on-c detection claim c: a confusion [b, c], nothing missed
    low = ev.at(score=0.1, iou=0.45).confusion.counts
    assert low[1, 2] == 1 and low[3, 2] == 0


def test_empty_images_classes_without_gt_or_detections():
    ev = _evaluation([(0, 0, [0, 0, 10, 10], False)], [(1, 2, 0.9, [0, 0, 10, 10])])
    counts = ev.at(0.25).confusion.counts
    # a (never detected) is missed; c (no GT) is a false positive on the empty image; b is all zero
    assert counts[3, 0] == 1 and counts[2, 3] == 1 and counts.sum() == 2
    ev = _evaluation([], [])
    assert ev.at(0.25).confusion.counts.sum() == 0


def _random_case(rng, num_images=25, k=4):
    objects, dets = [], []
    for i in range(num_images):
        boxes = []
        for _ in range(rng.integers(0, 5)):
            xy, wh = rng.uniform(0, 200, 2), rng.uniform(10, 80, 2)
            c = int(rng.integers(0, k))
            objects.append((i, c, [*xy, *wh], False))
            boxes.append((c, xy, wh))
        for c, xy, wh in boxes:
            for _ in range(rng.integers(0, 3)):
                label = c if rng.random() < 0.7 else int(rng.integers(0, k))
                dets.append((i, label, round(float(rng.random()), 2), [*(xy + rng.normal(0, 5, 2)), *(wh * rng.uniform(0.7, 1.3, 2))]))
        for _ in range(rng.integers(0, 3)):
            dets.append((i, int(rng.integers(0, k)), round(float(rng.random()), 2), [*rng.uniform(0, 200, 2), *rng.uniform(10, 80, 2)]))
    return objects, dets, num_images, k


# Ultralytics runs in a subprocess: importing it patches PIL.Image.open for the whole process (an
# unreadable image then triggers its package auto-installer).
_ULTRALYTICS = r"""
import json, sys, torch
from ultralytics.utils.metrics import ConfusionMatrix
xyxy = lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
out = []
for case in json.load(sys.stdin):
    ref = ConfusionMatrix(names={i: str(i) for i in range(case["k"])})
    for image in range(case["images"]):
        o = [x for x in case["objects"] if x[0] == image]
        d = [x for x in case["dets"] if x[0] == image]
        ref.process_batch(
            {"bboxes": torch.tensor([xyxy(x[3]) for x in d], dtype=torch.float64).reshape(-1, 4),
             "conf": torch.tensor([x[2] for x in d], dtype=torch.float64), "cls": torch.tensor([x[1] for x in d])},
            {"bboxes": torch.tensor([xyxy(x[2]) for x in o], dtype=torch.float64).reshape(-1, 4),
             "cls": torch.tensor([x[1] for x in o])}, conf=0.25, iou_thres=0.45)
    out.append(ref.matrix.astype(int).tolist())
print(json.dumps(out))
"""


def test_equal_to_ultralytics_confusion_matrix():
    if importlib.util.find_spec("ultralytics") is None:  # not imported here: see _ULTRALYTICS
        pytest.skip("Ultralytics is optional")
    cases = [_random_case(np.random.default_rng(seed)) for seed in range(4)]
    payload = [{"objects": [(i, c, [float(v) for v in b], bool(w)) for i, c, b, w in objects],
                "dets": [(i, c, s, [float(v) for v in b]) for i, c, s, b in dets], "images": n, "k": k}
               for objects, dets, n, k in cases]
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", _ULTRALYTICS], input=json.dumps(payload), capture_output=True,
                          text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    references = json.loads(proc.stdout.strip().splitlines()[-1])
    for (objects, dets, num_images, _k), reference in zip(cases, references):
        ev = _evaluation(objects, dets, num_images, tuple("abcd"))
        np.testing.assert_array_equal(ev.at(0.25, 0.45).confusion.counts, np.array(reference))


def test_many_classes_keep_only_the_non_zero_cells():
    """2,000 classes: nothing (K+1)² is allocated; blocks of the shown classes equal the small dense matrix."""
    from detviewer.evaluation.confusion import DENSE_LIMIT

    objects, dets, n, _ = _random_case(np.random.default_rng(5))
    small = _evaluation(objects, dets, n, tuple("abcd")).at(0.25, 0.45).confusion
    k = 2000
    spread = {0: 17, 1: 1200, 2: 1321, 3: k - 1}  # the same case with its four classes spread over 2,000
    big_objects = [(i, spread[c], b, w) for i, c, b, w in objects]
    big_dets = [(i, spread[c], s, b) for i, c, s, b in dets]
    big = _evaluation(big_objects, big_dets, n, tuple(f"c{i}" for i in range(k))).at(0.25, 0.45).confusion
    assert big.num_classes == k and big.values.shape[0] <= 25 and big.values.sum() == small.counts.sum()
    shown = np.array([17, 1200, 1321, k - 1, k])
    np.testing.assert_array_equal(big.dense(shown), small.counts)
    np.testing.assert_allclose(big.normalized(shown), small.normalized())
    weight = small.counts.sum(axis=1)[:4] + small.counts.sum(axis=0)[:4]  # row + column of each class
    used = [c for c, w in zip(shown[:-1], weight) if w > 0]
    np.testing.assert_array_equal(big.busiest(10), used + [k])
    np.testing.assert_array_equal(big.busiest(1), [shown[int(np.argmax(weight))], k])
    with pytest.raises(ValueError, match="pass the classes to show"):
        big.counts  # noqa: B018 - a dense 2001² matrix is refused
    assert k + 1 > DENSE_LIMIT
