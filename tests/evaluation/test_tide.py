"""TIDE error breakdown against the tidecv package (same inputs, within 0.1 AP points) and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from eval_synthetic import coco_case

from detviewer.evaluation.errors import BKG, CLS, DUPE, LOC
from detviewer.evaluation.tide import evaluate_tide
from detviewer.io.annotations import coco_gt_from_dict
from detviewer.io.coco_results import coco_results_from_list

tidecv = pytest.importorskip("tidecv")

SHORT = {"Cls": "cls", "Loc": "loc", "Both": "both", "Dupe": "dupe", "Bkg": "bkg", "Miss": "missed"}


def _tidecv(gt: dict, results: list[dict]):
    """tidecv's TIDE on the same boxes: crowd annotations become its ignore regions."""
    g, p = tidecv.Data("gt"), tidecv.Data("pred")
    for image in sorted(gt["images"], key=lambda x: x["id"]):
        g.add_image(image["id"], image["file_name"])
    for cat in gt["categories"]:
        g.add_class(cat["id"], cat["name"])
    for ann in gt["annotations"]:
        if ann["iscrowd"]:
            g.add_ignore_region(ann["image_id"], ann["category_id"], ann["bbox"])
        else:
            g.add_ground_truth(ann["image_id"], ann["category_id"], ann["bbox"])
    for det in results:
        p.add_detection(det["image_id"], det["category_id"], det["score"], det["bbox"])
    tide = tidecv.TIDE()
    run = tide.evaluate(g, p, mode=tidecv.TIDE.BOX)
    main = {SHORT[k]: v for k, v in tide.get_main_errors()["pred"].items()}
    special = tide.get_special_errors()["pred"]
    counts = {SHORT[t.short_name]: n for t, n in run.count_errors().items()}
    return run.ap, main, special["FalsePos"], special["FalseNeg"], counts


def _ours(gt: dict, results: list[dict]):
    g = coco_gt_from_dict(gt)
    return evaluate_tide(g.boxes, coco_results_from_list(results, g).boxes, g.num_categories)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equal_to_tidecv(seed):
    gt, results = coco_case(seed)
    ap, main, fp, fn, counts = _tidecv(gt, results)
    ours = _ours(gt, results)
    assert ours.ap == pytest.approx(ap, abs=0.1)
    for name, value in main.items():
        assert ours.main_dap[name] == pytest.approx(value, abs=0.1), name
    assert ours.fp_dap == pytest.approx(fp, abs=0.1)
    assert ours.fn_dap == pytest.approx(fn, abs=0.1)
    assert ours.counts == counts


def test_more_than_max_dets_per_image_are_cut_as_tidecv_does():
    gt, results = coco_case(5, num_images=6)
    rng = np.random.default_rng(1)
    for _i in range(150):  # 150 boxes on image 1: only the best 100 take part
        results.append({"image_id": 1, "category_id": 1, "bbox": [float(v) for v in rng.uniform(1, 90, 4)],
                        "score": round(float(rng.random()), 3)})
    ap, main, fp, fn, counts = _tidecv(gt, results)
    ours = _ours(gt, results)
    assert ours.ap == pytest.approx(ap, abs=0.1) and ours.counts == counts
    assert ours.fp_dap == pytest.approx(fp, abs=0.1)


def _one_image(objects, detections):
    """objects: [(class, xywh)], detections: [(class, score, xywh)] on one image."""
    gt = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
          "annotations": [{"id": i + 1, "image_id": 1, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
                          for i, (c, b) in enumerate(objects)]}
    res = [{"image_id": 1, "category_id": c, "score": s, "bbox": b} for c, s, b in detections]
    return _ours(gt, res)


def test_each_error_type_by_hand():
    ours = _one_image([(1, [0, 0, 10, 10]), (2, [50, 50, 10, 10])],
                      [(1, 0.9, [0, 0, 10, 10]),     # TP
                       (1, 0.8, [0, 0, 10, 9]),      # IoU 0.9 with a taken object of its class: dupe
                       (1, 0.7, [50, 50, 10, 10]),   # on the class-2 object: cls
                       (2, 0.6, [50, 50, 10, 3]),    # IoU 0.3 with its own class: loc
                       (2, 0.5, [200, 200, 10, 10])])  # nothing: bkg
    by_score = dict(zip(np.round(np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 1), range(5)))
    codes = dict(zip(ours.det.tolist(), ours.det_error.tolist()))
    assert [codes[by_score[s]] for s in (0.9, 0.8, 0.7, 0.6, 0.5)] == [-1, DUPE, CLS, LOC, BKG]
    # the cls error (0.7) outranks the loc error (0.6) at the class-2 object: only it would become a TP
    assert ours.counts == {"cls": 1, "loc": 1, "both": 0, "dupe": 1, "bkg": 1, "missed": 0}
    assert not ours.gt_missed.any()
