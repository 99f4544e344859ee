"""COCO and VOC evaluation: against pycocotools, hand-computed curves and the VOC devkit formula."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detviewer.core.coco_eval import bbox_iou_pairs, evaluate_coco
from detviewer.core.metrics import COCO_STAT_NAMES
from detviewer.core.voc_eval import evaluate_voc, voc_ap
from detviewer.io.annotations import coco_gt_from_dict
from detviewer.io.coco_results import coco_results_from_list

# ----------------------------------------------------------------------------- helpers


def pycoco_eval(gt: dict, results: list[dict], cat_ids: list[int] | None = None) -> COCOeval:
    """pycocotools' COCOeval on in-memory dicts, its prints silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        else:  # loadRes cannot take an empty list; an empty results COCO is what it would build
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def ours(gt: dict, results: list[dict]):
    g = coco_gt_from_dict(gt)
    r = coco_results_from_list(results, g)
    return g, evaluate_coco(g.boxes, r.boxes, g.num_images, g.num_categories)


def assert_same_as_pycocotools(gt: dict, results: list[dict]) -> None:
    ref = pycoco_eval(gt, results)
    _, ev = ours(gt, results)
    np.testing.assert_allclose(ev.precision, ref.eval["precision"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ev.recall, ref.eval["recall"], rtol=0, atol=1e-9)
    np.testing.assert_allclose([ev.stats[k] for k in COCO_STAT_NAMES], ref.stats, rtol=0, atol=1e-9)


def make_gt(images, categories, anns) -> dict:
    """images: ids; categories: ids; anns: (image_id, category_id, bbox, iscrowd) -> COCO dict."""
    out = []
    for i, (image_id, cat, bbox, crowd) in enumerate(anns):
        out.append({"id": i + 1, "image_id": image_id, "category_id": cat, "bbox": list(bbox),
                    "area": float(bbox[2] * bbox[3]), "iscrowd": crowd})
    return {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in images],
            "categories": [{"id": c, "name": f"c{c}"} for c in categories],
            "annotations": out}


def res(image_id, cat, bbox, score) -> dict:
    return {"image_id": image_id, "category_id": cat, "bbox": list(bbox), "score": score}


# ----------------------------------------------------------------------------- hand-computed COCO


def test_single_box_ap_by_hand():
    # One GT, one detection with IoU 0.72 (7200 / 10000): it matches at the thresholds
    # 0.50 ... 0.70 (5 of 10) with precision 1 at every recall level, misses at 0.75+.
    gt = make_gt([1], [1], [(1, 1, [0, 0, 100, 100], 0)])
    _, ev = ours(gt, [res(1, 1, [0, 0, 100, 72], 0.9)])
    assert ev.stats["AP"] == pytest.approx(5 / 10, abs=1e-12)
    # (pycocotools' precision is tp / (tp + fp + eps), hence approx for the ones)
    assert ev.stats["AP50"] == pytest.approx(1.0, abs=1e-12) and ev.stats["AP75"] == 0.0
    assert ev.stats["AR100"] == pytest.approx(0.5, abs=1e-12)
    # area 10000 is "large" (> 96**2): small and medium have no GT -> -1
    assert ev.stats["AP_small"] == -1 and ev.stats["AP_medium"] == -1
    assert ev.stats["AP_large"] == pytest.approx(0.5, abs=1e-12)


def test_false_positive_first_by_hand():
    # Ranked: FP (score .9), TP (score .8) for 1 GT -> precision 0.5 at recall 1, so
    # every recall threshold reads 0.5 (the envelope) at every IoU threshold.
    gt = make_gt([1], [1], [(1, 1, [0, 0, 50, 50], 0)])
    _, ev = ours(gt, [res(1, 1, [200, 200, 50, 50], 0.9), res(1, 1, [0, 0, 50, 50], 0.8)])
    assert ev.stats["AP"] == pytest.approx(0.5, abs=1e-12)
    assert ev.stats["AR1"] == 0.0 and ev.stats["AR10"] == pytest.approx(1.0, abs=1e-12)


def test_iou_is_bitwise_pycocotools():
    rng = np.random.default_rng(3)
    d = np.round(rng.uniform(0, 60, (400, 4)), rng.integers(0, 4))
    g = np.round(rng.uniform(0, 60, (400, 4)), 1)
    d[::7, 2] = 0.0  # degenerate boxes
    crowd = rng.random(400) < 0.3
    ours_iou = bbox_iou_pairs(d, g, crowd)
    ref = np.array([mask_utils.iou([list(a)], [list(b)], [int(c)])[0, 0] for a, b, c in zip(d, g, crowd)])
    assert np.array_equal(ours_iou, ref)


# ----------------------------------------------------------------------------- hostile cases vs pycocotools


def test_hostile_cases_against_pycocotools():
    rng = np.random.default_rng(0)
    images = [3, 1, 7, 9, 4]  # 9: empty image, 4: GT but no detections
    anns = [
        (1, 1, [10, 10, 40, 40], 0), (1, 1, [0, 0, 200, 200], 1),   # crowd over a normal box
        (1, 2, [100, 100, 0, 30], 0),                                # zero width
        (3, 1, [5, 5, 20, 20], 0), (3, 1, [5, 5, 20, 20], 0),        # identical GTs (IoU ties)
        (3, 3, [50, 50, 100, 100], 0),                               # class 3 never predicted
        (7, 2, [0, 0, 32, 32], 0), (4, 1, [0, 0, 64, 64], 0),        # area exactly 32**2
    ]
    gt = make_gt(images, [1, 2, 3, 5], anns)  # class 5 has no GT at all
    results = [
        res(1, 1, [10, 10, 40, 40], 0.9), res(1, 1, [12, 12, 40, 40], 0.9),  # score tie
        res(1, 1, [50, 50, 60, 60], 0.8), res(1, 1, [0, 0, 180, 180], 0.5),   # hits the crowd
        res(1, 2, [100, 100, 0, 30], 0.7),                                     # degenerate vs degenerate
        res(3, 1, [5, 5, 20, 20], 0.6), res(3, 1, [5, 5, 20, 20], 0.6), res(3, 1, [6, 5, 20, 20], 0.6),
        res(7, 2, [0, 0, 32, 32], 0.95), res(7, 5, [0, 0, 10, 10], 0.4),
    ]
    # more than 100 detections in one image and category, many tied
    for _ in range(130):
        x, y = rng.integers(0, 150, 2)
        results.append(res(1, 1, [float(x), float(y), 40.0, 40.0], float(rng.choice([0.3, 0.35, rng.random()]))))
    assert_same_as_pycocotools(gt, results)


def test_no_detections_at_all():
    gt = make_gt([1, 2], [1, 2], [(1, 1, [0, 0, 10, 10], 0), (2, 2, [0, 0, 50, 50], 1)])
    ref = pycoco_eval(gt, [])
    _, ev = ours(gt, [])
    np.testing.assert_allclose([ev.stats[k] for k in COCO_STAT_NAMES], ref.stats, atol=1e-9, rtol=0)
    assert ev.per_class_ap().tolist() == [0.0, -1.0]  # class 2 has only a crowd GT


def test_annotation_id_zero_matches_pycocotools():
    # pycocotools stores the matched GT id and tests it for truth: a match to id 0 is
    # counted as a false positive. We reproduce that.
    gt = make_gt([1], [1], [(1, 1, [0, 0, 50, 50], 0), (1, 1, [100, 0, 50, 50], 0)])
    gt["annotations"][0]["id"] = 0
    results = [res(1, 1, [0, 0, 50, 50], 0.9), res(1, 1, [100, 0, 50, 50], 0.8)]
    assert_same_as_pycocotools(gt, results)
    _, ev = ours(gt, results)
    assert ev.stats["AP50"] < 1.0


def test_many_images_many_detections_against_pycocotools():
    rng = np.random.default_rng(1)
    images, anns, results = list(range(1, 41)), [], []
    for image_id in images:
        boxes = []
        for _ in range(rng.integers(0, 12)):
            w, h = np.round(np.exp(rng.uniform(1.5, 5.5, 2)), 1)
            box = [round(float(rng.uniform(0, 300)), 1), round(float(rng.uniform(0, 300)), 1), float(w), float(h)]
            cat = int(rng.integers(1, 6))
            anns.append((image_id, cat, box, int(rng.random() < 0.05)))
            boxes.append((box, cat))
        for _ in range(rng.integers(0, 30)):
            if boxes and rng.random() < 0.7:
                (x, y, w, h), cat = boxes[rng.integers(len(boxes))]
                box = [round(x + float(rng.normal(0, 3)), 1), round(y + float(rng.normal(0, 3)), 1), w, h]
            else:
                box, cat = [float(v) for v in rng.uniform(0, 200, 4).round(1)], int(rng.integers(1, 6))
            results.append(res(image_id, cat, box, round(float(rng.random()), 2)))
    assert_same_as_pycocotools(make_gt(images, [1, 2, 3, 4, 5, 6], anns), results)


# ----------------------------------------------------------------------------- property test vs pycocotools

_coord = st.integers(0, 12).map(lambda v: v * 4.0)          # a coarse grid makes exact IoU ties
_size = st.sampled_from([0.0, 4.0, 8.0, 12.0, 20.0, 32.0, 40.0, 96.0, 120.0])
_box = st.tuples(_coord, _coord, _size, _size).map(list)
_score = st.one_of(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0]), st.floats(0, 1, allow_nan=False))


@st.composite
def coco_cases(draw):
    """Small GT/results sets with crowds, empty images, unpredicted classes, ties, zero sizes."""
    image_ids = draw(st.lists(st.integers(0, 40), min_size=1, max_size=5, unique=True))
    cat_ids = draw(st.lists(st.integers(1, 40), min_size=1, max_size=4, unique=True))
    first_id = draw(st.sampled_from([0, 1, 1000]))
    gt_specs = draw(st.lists(st.tuples(st.sampled_from(image_ids), st.sampled_from(cat_ids), _box,
                                       st.sampled_from([0, 0, 0, 1]), st.sampled_from([1.0, 0.5, 2.0])),
                             max_size=14))
    anns = [{"id": first_id + i, "image_id": im, "category_id": c, "bbox": b,
             "area": b[2] * b[3] * scale, "iscrowd": crowd}
            for i, (im, c, b, crowd, scale) in enumerate(gt_specs)]
    results = []
    for _ in range(draw(st.integers(0, 25))):
        if anns and draw(st.booleans()):  # a near copy of a GT box: real matches
            a = anns[draw(st.integers(0, len(anns) - 1))]
            dx, dy, dw = (draw(st.sampled_from([-4.0, 0.0, 4.0])) for _ in range(3))
            x, y, w, h = a["bbox"]
            bbox = [x + dx, y + dy, max(w + dw, 0.0), h]
            image_id, cat = a["image_id"], draw(st.sampled_from([a["category_id"], *cat_ids]))
        else:
            bbox, image_id, cat = draw(_box), draw(st.sampled_from(image_ids)), draw(st.sampled_from(cat_ids))
        results.append(res(image_id, cat, bbox, draw(_score)))
    gt = {"images": [{"id": i} for i in image_ids],
          "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids], "annotations": anns}
    return gt, results


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_cases())
def test_random_cases_equal_pycocotools(case):
    gt, results = case
    assert_same_as_pycocotools(gt, results)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_cases())
def test_per_class_ap_equals_pycocotools_per_category(case):
    gt, results = case
    g, ev = ours(gt, results)
    ap = ev.per_class_ap()
    for k, cat in enumerate(g.category_ids.tolist()):
        ref = pycoco_eval(gt, results, cat_ids=[cat])
        assert ap[k] == pytest.approx(ref.stats[0], abs=1e-9)


# ----------------------------------------------------------------------------- VOC


def devkit_voc(gt_boxes: dict, dets: list, use_07_metric: bool, thresh: float = 0.5) -> float:
    """The VOC devkit's voc_eval for one class, in plain Python (continuous coordinates).

    gt_boxes: image -> list of (xywh, difficult); dets: (image, xywh, score) in file order.
    """
    npos = sum(1 for boxes in gt_boxes.values() for _, diff in boxes if not diff)
    if npos == 0:
        return -1.0
    taken = {im: [False] * len(boxes) for im, boxes in gt_boxes.items()}
    order = sorted(range(len(dets)), key=lambda i: -dets[i][2])  # stable: ties keep file order
    tp, fp = [], []
    for i in order:
        image, (x, y, w, h), _ = dets[i]
        best, jbest = -float("inf"), -1
        for j, ((gx, gy, gw, gh), _) in enumerate(gt_boxes.get(image, [])):
            iw = max(min(x + w, gx + gw) - max(x, gx), 0.0)
            ih = max(min(y + h, gy + gh) - max(y, gy), 0.0)
            union = w * h + gw * gh - iw * ih
            ov = iw * ih / union if union > 0 else 0.0
            if ov > best:
                best, jbest = ov, j
        t = f = 0.0
        if best > thresh:
            if not gt_boxes[image][jbest][1]:
                if not taken[image][jbest]:
                    t, taken[image][jbest] = 1.0, True
                else:
                    f = 1.0
        else:
            f = 1.0
        tp.append(t)
        fp.append(f)
    ctp = cfp = 0.0
    rec, prec = [], []
    for t, f in zip(tp, fp):
        ctp, cfp = ctp + t, cfp + f
        rec.append(ctp / npos)
        prec.append(ctp / max(ctp + cfp, np.finfo(np.float64).eps))
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):  # the devkit's own thresholds (0.30000000000000004 ...)
            ps = [p for r, p in zip(rec, prec) if r >= t]
            ap += (max(ps) if ps else 0.0) / 11
        return ap
    mrec, mpre = [0.0, *rec, 1.0], [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def _voc_hand_case():
    # class 1: image 1 has G1 and a difficult G2, image 2 has G3 -> 2 positives.
    # class 2: one GT, never detected. class 3: no GT, one detection (AP -1, not in the mean).
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 0, 10, 10], "area": 100, "iscrowd": 0,
             "difficult": 1},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 4, "image_id": 2, "category_id": 2, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    results = [
        res(1, 1, [0, 0, 10, 10], 0.9),    # d1: IoU 1 with G1            -> TP
        res(1, 1, [1, 0, 10, 10], 0.8),    # d2: best G1 (90/110), taken  -> FP
        res(1, 1, [20, 0, 10, 10], 0.7),   # d3: best G2, difficult       -> ignored
        res(2, 1, [50, 50, 10, 10], 0.6),  # d4: no overlap               -> FP
        res(2, 1, [0, 0, 10, 11], 0.5),    # d5: IoU 100/110 with G3      -> TP
        res(1, 3, [0, 0, 10, 10], 0.5),
    ]
    return gt, results


def test_voc_hand_computed_curve():
    gt, results = _voc_hand_case()
    g = coco_gt_from_dict(gt)
    r = coco_results_from_list(results, g)
    ev = evaluate_voc(g.boxes, r.boxes, g.num_images, g.num_categories)
    # ranked d1..d5: TP FP ign FP TP; cumulative TP 1 1 1 1 2, FP 0 1 1 2 2, 2 positives
    np.testing.assert_allclose(ev.recall[0], [0.5, 0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(ev.precision[0], [1.0, 0.5, 0.5, 1 / 3, 0.5])
    # all-point: recall 0 -> .5 at envelope 1, .5 -> 1 at envelope .5
    assert ev.ap[0] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5, abs=1e-12)
    assert ev.ap[1] == 0.0 and ev.ap[2] == -1.0
    assert ev.mean_ap == pytest.approx((0.75 + 0.0) / 2, abs=1e-12)
    ev07 = evaluate_voc(g.boxes, r.boxes, g.num_images, g.num_categories, use_07_metric=True)
    # 11 points: recall >= 0, .1, ... .5 -> best precision 1 (6 points); .6 ... 1 -> .5 (5 points)
    assert ev07.ap[0] == pytest.approx((6 * 1.0 + 5 * 0.5) / 11, abs=1e-12)
    assert ev07.mean_ap == pytest.approx((8.5 / 11) / 2, abs=1e-12)


def test_voc_ap_formula_edge_cases():
    assert voc_ap(np.array([]), np.array([])) == 0.0
    assert voc_ap(np.array([1.0]), np.array([1.0])) == 1.0
    assert voc_ap(np.array([1.0]), np.array([1.0]), use_07_metric=True) == pytest.approx(1.0)
    # recall never reaches 0.1: only the t = 0 point counts
    assert voc_ap(np.array([0.05]), np.array([1.0]), use_07_metric=True) == pytest.approx(1 / 11)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_cases(), st.booleans())
def test_voc_matches_devkit_reference(case, use_07_metric):
    gt, results = case
    for a in gt["annotations"]:  # crowd and difficult are both ignored by VOC
        a["difficult"] = int(a["id"] % 3 == 0)
    g = coco_gt_from_dict(gt)
    r = coco_results_from_list(results, g)
    ev = evaluate_voc(g.boxes, r.boxes, g.num_images, g.num_categories, use_07_metric=use_07_metric)
    for k, cat in enumerate(g.category_ids.tolist()):
        gt_boxes: dict = {}
        for a in gt["annotations"]:
            if a["category_id"] == cat:
                gt_boxes.setdefault(a["image_id"], []).append((a["bbox"], bool(a["iscrowd"] or a["difficult"])))
        dets = [(d["image_id"], d["bbox"], d["score"]) for d in results if d["category_id"] == cat]
        assert ev.ap[k] == pytest.approx(devkit_voc(gt_boxes, dets, use_07_metric), abs=1e-9)
