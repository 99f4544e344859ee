"""mAP view: AP50 per class, mAP50 and COCO's AP on one image against pycocotools, and a hand-computed PR case."""

import numpy as np
import pytest

from detviewer.core.types import Detections, Inference
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.map_view import image_ap, map_frame, map_steps

NAMES = ("__background__", "cat", "dog", "bird")


def _inference(boxes, scores, labels) -> Inference:
    det = Detections(np.asarray(boxes, np.float32), scores, labels, NAMES)
    return Inference("hand", (200, 300), det, det)


def test_hand_computed_pr_curve_and_area():
    # two cats; detections TP (0.9), FP (0.8), TP (0.7): precision 1, 0.5, 0.67 at recall 0.5, 0.5, 1.
    # Interpolated: 1 for the 51 recall points r <= 0.5, 2/3 for the other 50 -> AP50 = (51 + 50·2/3) / 101.
    gt = (np.array([[10, 10, 60, 60], [100, 20, 160, 90]], np.float32), np.array([1, 1]))
    inference = _inference([[10, 10, 60, 60], [200, 100, 250, 150], [101, 21, 160, 90]], [0.9, 0.8, 0.7], [1, 1, 1])
    result = image_ap(inference, gt)
    assert result.ap50[0] == pytest.approx((51 + 50 * 2 / 3) / 101)
    np.testing.assert_array_equal(result.tp, [True, False, True])
    frame = map_frame(inference, 1, gt=gt)
    rows = dict(frame.table)
    assert rows["#1 0.90"] == "TP · precision 1.00 · recall 0.50"
    assert rows["#2 0.80"] == "FP · precision 0.50 · recall 0.50"
    assert rows["#3 0.70"] == "TP · precision 0.67 · recall 1.00"
    assert rows["AP50 (cat)"] == "83.5"
    assert frame.layer("detections").labels[-1] == "#1 TP 0.90"  # drawn last, on top
    assert len(frame.layer("pr_area")) == 101


def _pycocotools(gt, inference):
    """AP50 per class, mAP50 and AP from pycocotools on the same single image."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    boxes, labels = gt
    coco = COCO()
    coco.dataset = {"images": [{"id": 1, "width": 300, "height": 200}],
                    "categories": [{"id": i, "name": n} for i, n in enumerate(NAMES) if i],
                    "annotations": [{"id": j + 1, "image_id": 1, "category_id": int(c), "iscrowd": 0,
                                     "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                                     "area": float((b[2] - b[0]) * (b[3] - b[1]))}
                                    for j, (b, c) in enumerate(zip(boxes, labels))]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        det = inference.detections
        results = coco.loadRes([{"image_id": 1, "category_id": int(c), "score": float(s),
                                 "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
                                for b, s, c in zip(det.xyxy, det.scores, det.labels)])
        out = {}
        for cat in sorted(set(labels.tolist())):
            ev = COCOeval(coco, results, "bbox")
            ev.params.catIds = [cat]
            ev.evaluate(), ev.accumulate(), ev.summarize()
            out[cat] = ev.stats[1]
        ev = COCOeval(coco, results, "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    return out, ev.stats[0], ev.stats[1]


def test_ap50_per_class_map50_and_coco_ap_equal_pycocotools():
    rng = np.random.default_rng(4)
    gt_boxes = np.array([[10, 10, 60, 60], [100, 20, 160, 90], [30, 120, 90, 180], [200, 40, 280, 150],
                         [150, 110, 190, 190]], np.float32)
    gt = (gt_boxes, np.array([1, 1, 2, 2, 3]))
    jitter = rng.normal(0, 6, (12, 4)).astype(np.float32)
    boxes = np.concatenate([gt_boxes, gt_boxes[[0, 2, 3]], rng.uniform(0, 150, (4, 2)).repeat(2, 1)
                            + [0, 0, 40, 40]]) + jitter
    labels = np.array([1, 1, 2, 2, 3, 1, 2, 2, 1, 2, 3, 3])
    inference = _inference(boxes, rng.uniform(0.05, 1, 12).astype(np.float32), labels)
    per_class, ap, ap50 = _pycocotools(gt, inference)
    result = image_ap(inference, gt)
    assert result.classes.tolist() == [1, 2, 3]
    np.testing.assert_allclose(result.ap50, [per_class[c] for c in (1, 2, 3)], atol=1e-12)
    assert result.map50 == pytest.approx(ap50, abs=1e-12) and result.coco_ap == pytest.approx(ap, abs=1e-12)
    frame = map_frame(inference, gt=gt)
    assert map_steps(inference, gt) == 5 and frame.step == 4
    rows = dict(frame.table)
    assert rows["mAP50 (mean of the above)"] == f"{100 * ap50:.1f}" and rows["COCO AP@[.5:.95]"] == f"{100 * ap:.1f}"
    assert frame.layer("bars").labels == tuple(f"{100 * per_class[c]:.0f}" for c in (1, 2, 3))


def test_needs_ground_truth():
    with pytest.raises(ViewError, match="ground truth"):
        map_frame(_inference(np.zeros((0, 4)), np.zeros(0), np.zeros(0)))
