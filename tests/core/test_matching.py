"""Per-image TP / FP / missed matching: a hand-made case and pycocotools' own per-image matches."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detviewer.core.matching import match_to_ground_truth


def test_hand_made_case():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float32)
    gt_labels = np.array([1, 1, 2])
    det = np.array([
        [0, 0, 10, 10],    # 0.9 class 1 on GT 0: TP
        [0, 0, 10, 9],     # 0.8 class 1 on GT 0 again (IoU 0.9): duplicate, FP
        [20, 0, 30, 4],    # 0.7 class 1 on GT 1 with IoU 0.4: FP, GT 1 missed
        [40, 0, 50, 10],   # 0.6 class 1 on GT 2 of class 2: wrong class, FP; GT 2 missed
    ], np.float32)
    m = match_to_ground_truth(det, [0.9, 0.8, 0.7, 0.6], [1, 1, 1, 1], gt, gt_labels, 0.5)
    assert m.tp.tolist() == [True, False, False, False]
    assert m.matched_gt.tolist() == [0, -1, -1, -1]
    assert m.missed.tolist() == [False, True, True]
    assert m.counts == (1, 3, 2)
    assert m.iou[0] == pytest.approx(1.0)
    assert "TP 1 · FP 3 · missed 2" in m.summary()


def test_the_higher_score_takes_the_object_whatever_the_order():
    gt = np.array([[0, 0, 10, 10]], np.float32)
    det = np.array([[0, 0, 10, 8], [0, 0, 10, 10]], np.float32)  # the better box scores lower
    m = match_to_ground_truth(det, [0.9, 0.5], [3, 3], gt, [3], 0.5)
    assert m.tp.tolist() == [True, False]


def test_crowd_regions_absorb_detections_and_are_never_missed():
    gt = np.array([[0, 0, 100, 100], [0, 0, 20, 20]], np.float32)
    crowd = np.array([True, False])
    det = np.array([[0, 0, 20, 20], [0, 0, 21, 20], [50, 50, 70, 70]], np.float32)
    m = match_to_ground_truth(det, [0.9, 0.8, 0.7], [1, 1, 1], gt, [1, 1], 0.5, gt_crowd=crowd)
    # the first takes the ordinary box; the other two lie inside the crowd region (IoU = inter / own area = 1)
    assert m.tp.tolist() == [True, False, False] and m.ignored.tolist() == [False, True, True]
    assert m.counts == (1, 0, 0) and m.missed.tolist() == [False, False]


def test_empty_inputs():
    m = match_to_ground_truth(np.zeros((0, 4)), [], [], np.array([[0, 0, 5, 5]]), [1])
    assert m.counts == (0, 0, 1)
    m = match_to_ground_truth(np.array([[0, 0, 5, 5]]), [0.5], [1], np.zeros((0, 4)), [])
    assert m.counts == (0, 1, 0)


def _pycoco_matches(gt_xyxy, gt_labels, det_xyxy, scores, labels, threshold, crowd=None):
    """pycocotools' evaluateImg at one IoU threshold: (matched, ignored) per detection."""
    crowd = np.zeros(len(gt_xyxy), bool) if crowd is None else crowd
    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    cats = sorted(set(gt_labels.tolist()) | set(labels.tolist()))
    dataset = {"images": [{"id": 1, "width": 200, "height": 200}],
               "categories": [{"id": int(c), "name": str(c)} for c in cats],
               "annotations": [{"id": i + 1, "image_id": 1, "category_id": int(c), "bbox": xywh(b),
                                "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": int(k)}
                               for i, (b, c, k) in enumerate(zip(gt_xyxy, gt_labels, crowd))]}
    results = [{"image_id": 1, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
               for b, s, c in zip(det_xyxy, scores, labels)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(results), "bbox")
        ev.params.iouThrs = np.array([threshold])
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [1000]
        ev.evaluate()
    matched, ignored = {}, {}
    for e in ev.evalImgs:
        if e is None:
            continue
        for det_id, gt_id, ig in zip(e["dtIds"], e["dtMatches"][0], e["dtIgnore"][0]):
            matched[det_id - 1] = gt_id > 0  # loadRes numbers detections 1.. in file order
            ignored[det_id - 1] = bool(ig)
    n = len(det_xyxy)
    tp = np.array([matched[i] and not ignored[i] for i in range(n)])
    return tp, np.array([ignored[i] for i in range(n)])


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_pycocotools(seed):
    rng = np.random.default_rng(seed)
    m, d = rng.integers(0, 8), rng.integers(1, 30)
    centres = rng.uniform(20, 180, (m, 2))
    sizes = rng.uniform(8, 40, (m, 2))
    gt = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    gt_labels = rng.integers(1, 4, m)
    # detections near the objects (jittered), plus some anywhere
    pick = rng.integers(0, max(m, 1), d)
    near = gt[pick] + rng.normal(0, 4, (d, 4)) if m else rng.uniform(0, 200, (d, 4))
    anywhere = rng.uniform(0, 160, (d, 2))
    boxes = np.where(rng.random((d, 1)) < 0.8, near, np.concatenate([anywhere, anywhere + 30], axis=1))
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:]) + 1],
                           axis=1)
    labels = np.where(rng.random(d) < 0.8, gt_labels[pick] if m else 1, rng.integers(1, 4, d))
    scores = rng.random(d)
    threshold = float(rng.choice([0.3, 0.5, 0.75]))
    crowd = rng.random(m) < 0.25  # some crowd regions: detections on them are ignored, never missed
    ours = match_to_ground_truth(boxes, scores, labels, gt, gt_labels, threshold, gt_crowd=crowd)
    tp, ignored = _pycoco_matches(gt, gt_labels, boxes, scores, labels, threshold, crowd)
    assert ours.tp.tolist() == tp.tolist()
    assert ours.ignored.tolist() == ignored.tolist()
    assert ours.counts[2] == int((~crowd).sum()) - int(tp.sum())
