"""DatasetEvaluation against pycocotools (table, PR points, per-image AP) and the window's own matcher."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from eval_synthetic import coco_case
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detviewer.core.matching import match_to_ground_truth
from detviewer.core.metrics import COCO_STAT_NAMES
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
from detviewer.evaluation.errors import ERROR_TYPES, classify_false_positives
from detviewer.io.annotations import coco_gt_from_dict
from detviewer.io.coco_results import coco_results_from_list


def _pycocotools(gt: dict, results: list[dict], **params) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "bbox")
        for key, value in params.items():
            setattr(ev.params, key, value)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.fixture(scope="module", params=[0, 1])
def case(request):
    gt, results = coco_case(request.param)
    g = coco_gt_from_dict(gt)
    r = coco_results_from_list(results, g)
    return gt, results, g, DatasetEvaluation(g.boxes, r.boxes, g.num_images, g.category_names)


def test_coco_table_and_pr_points_equal_pycocotools(case):
    gt, results, g, ev = case
    ref = _pycocotools(gt, results)
    np.testing.assert_array_equal([ev.coco.stats[k] for k in COCO_STAT_NAMES], ref.stats)
    p = ref.eval["precision"][:, :, :, 0, -1]  # (T, R, K)
    np.testing.assert_array_equal(ev.pr.precision_50, p[0].T)
    has_gt = (p > -1).all(axis=(0, 1))
    np.testing.assert_allclose(ev.pr.precision_50_95[has_gt], p.mean(axis=0).T[has_gt])
    assert (ev.pr.precision_50_95[~has_gt] == -1).all()
    snap = ev.at(0.3)
    for k, cat in enumerate(g.category_ids.tolist()):
        one = _pycocotools(gt, results, catIds=[cat])
        assert snap.classes.ap[k] == pytest.approx(one.stats[0]) and snap.classes.ap50[k] == pytest.approx(one.stats[1])


def test_per_image_ap_equals_pycocotools_on_that_image(case):
    gt, results, g, ev = case
    table = ev.at(0.0).images
    for i in range(0, g.num_images, 4):
        image_id = int(g.image_ids[i])
        has_objects = any(a["image_id"] == image_id and not a["iscrowd"] for a in gt["annotations"])
        if not has_objects:
            assert np.isnan(table.ap[i])
            continue
        ref = _pycocotools(gt, results, imgIds=[image_id], iouThrs=np.array([0.5]), maxDets=[1, 10, 100])
        assert table.ap[i] == pytest.approx(ref.stats[0], abs=1e-9), image_id


@pytest.mark.parametrize("score", [0.0, 0.35, 0.8])
def test_operating_point_equals_the_window_matching_of_each_image(case, score):
    """TP / FP / missed and the FP error types equal core.matching + errors run image by image on the
    thresholded detections: one matching of everything, masked, is the matching of the masked set."""
    gt, results, g, ev = case
    snap = ev.at(score, iou=0.5)
    dt = ev.dt
    for i in range(g.num_images):
        d = np.flatnonzero((dt.image_index == i) & (dt.scores > score))
        o = np.flatnonzero(g.boxes.image_index == i)
        xyxy = lambda b: np.c_[b[:, :2], b[:, :2] + b[:, 2:]]  # noqa: E731
        m = match_to_ground_truth(xyxy(dt.xywh[d]), dt.scores[d], dt.category_index[d], xyxy(g.boxes.xywh[o]),
                                  g.boxes.category_index[o], 0.5, gt_crowd=g.boxes.crowd[o])
        assert (snap.images.tp[i], snap.images.fp[i], snap.images.fn[i]) == m.counts
        boxes = snap.image_boxes(i)
        np.testing.assert_array_equal(boxes["tp"], d[m.tp])
        np.testing.assert_array_equal(boxes["missed"], o[m.missed])
        objects = ~g.boxes.crowd[o]
        taken = np.zeros(len(o), bool)
        taken[m.matched_gt[m.tp]] = True
        codes = classify_false_positives(dt.category_index[d], m.ious[:, objects], g.boxes.category_index[o][objects],
                                         taken[objects], m.fp, 0.5)
        np.testing.assert_array_equal(boxes["fp_error"], codes[m.fp])


def test_class_table_counts_and_f1(case):
    gt, results, g, ev = case
    snap = ev.at(0.5)
    c = snap.classes
    assert (c.tp + c.fn == c.n_gt).all()
    assert c.tp.sum() == snap.images.tp.sum() and c.fp.sum() == snap.images.fp.sum()
    with_gt = c.n_gt > 0
    np.testing.assert_allclose(c.recall[with_gt], c.tp[with_gt] / c.n_gt[with_gt])
    assert (c.recall[~with_gt] == -1).all()
    i = int(np.argmin(np.abs(snap.curves.confidence - 0.5)))
    np.testing.assert_allclose(snap.curves.precision[:, i], c.precision)


def test_queries_return_the_boxes_behind_them(case):
    gt, results, g, ev = case
    snap = ev.at(0.2)
    dupes = snap.with_error("dupe")
    assert dupes and all(snap.evaluation.dt.image_index[d] == hit.image for hit in dupes for d in hit.detections)
    for hit in dupes:
        boxes = snap.image_boxes(hit.image)
        assert set(hit.detections) <= set(boxes["fp"][boxes["fp_error"] == ERROR_TYPES.index("dupe")].tolist())
    for k in range(ev.num_classes):
        hits = snap.missed(k)
        assert sum(len(h.ground_truth) for h in hits) == snap.classes.fn[k]
        assert all(g.boxes.category_index[j] == k for h in hits for j in h.ground_truth)


def test_confidence_curves_by_hand():
    from detviewer.evaluation.curves import confidence_curves

    # class 0: scores 0.9 TP, 0.6 FP, 0.3 TP with 3 objects; class 1: no detection, 1 object
    cur = confidence_curves([0, 0, 0], [0.9, 0.6, 0.3], [True, False, True], [True] * 3, [0, 0, 0, 1], 2, 0.5,
                            grid=np.array([0.0, 0.5, 0.7, 0.95]))
    np.testing.assert_allclose(cur.precision[0], [2 / 3, 1 / 2, 1, 1])
    np.testing.assert_allclose(cur.recall[0], [2 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(cur.recall[1], [0, 0, 0, 0])
    f1 = [2 / 3, 0.4, 0.5, 0]
    np.testing.assert_allclose(cur.f1[0], f1)
    np.testing.assert_allclose(cur.mean_f1, np.array(f1) / 2)
    assert cur.best_threshold == 0.0
