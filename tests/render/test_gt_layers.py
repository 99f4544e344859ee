"""Ground truth over the detections view: which boxes are drawn as misses and false positives, and why."""

from __future__ import annotations

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.io.image_gt import ImageBoxes
from detviewer.ops.nms import nms_trace
from detviewer.render.model.gt_layers import ground_truth_layers
from detviewer.render.model.primitives import TextLayer
from detviewer.state.nms_replay import NMSReplay, Thresholds, replay

NAMES = ("__background__", "cat", "dog")


def _replay(boxes, scores, labels, iou: float = 0.5) -> NMSReplay:
    cand = Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(labels), NAMES)
    inference = Inference("fake", (200, 200), cand, cand, nms=NMSParams(0.5, 0.3, False, None))
    return replay(inference, Thresholds(score=0.3, iou=iou), nms_trace)


GT = ImageBoxes(np.array([[0, 0, 40, 40], [100, 100, 140, 140], [150, 0, 190, 40]], np.float32),
                np.array([1, 1, 2]), ("cat", "cat", "dog"))


def test_false_positives_say_why_and_misses_are_labelled_under_the_box():
    session = _replay(
        [[0, 0, 40, 40],        # cat 0.9 on the first cat: TP
         [100, 100, 140, 120],  # cat 0.8 on the second cat, IoU 0.5: TP at 0.5
         [150, 0, 190, 40],     # cat 0.7 on the dog: wrong class
         [60, 60, 80, 80],      # cat 0.6 on nothing: background
         [0, 0, 40, 25]],       # dog 0.5 on a cat... no dog there: wrong class
        [0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 1, 1, 2])
    layers, match = ground_truth_layers(session, GT)
    by_name = {layer.name: layer for layer in layers}
    assert match.counts == (2, 3, 1)
    assert list(by_name["ground_truth"].index) == [0, 1, 2]
    fp = by_name["false_positive"]
    assert fp.index.tolist() == [2, 3, 4]
    assert fp.labels == ("FP cat 0.70: wrong class (dog)", "FP cat 0.60: background", "FP dog 0.50: wrong class (cat)")
    missed = by_name["missed"]
    np.testing.assert_array_equal(missed.xyxy, GT.xyxy[[2]])
    text = by_name["missed_labels"]
    assert isinstance(text, TextLayer) and text.texts == ("missed dog",)
    assert text.positions[0, 1] > GT.xyxy[2, 3]  # under the box, not over the FP label at its top


def test_duplicates_and_loose_boxes():
    session = _replay([[0, 0, 40, 40], [100, 100, 125, 125]], [0.9, 0.8], [1, 1], iou=0.95)  # keep both: the
    # second is a loose box on the second cat
    layers, match = ground_truth_layers(session, GT)
    fp = next(layer for layer in layers if layer.name == "false_positive")
    assert fp.labels == ("FP cat 0.80: IoU 0.39",)
    session = _replay([[0, 0, 40, 40], [0, 0, 40, 36]], [0.9, 0.8], [1, 1], iou=0.95)
    layers, match = ground_truth_layers(session, GT)
    fp = next(layer for layer in layers if layer.name == "false_positive")
    assert fp.labels == ("FP cat 0.80: duplicate",)


def test_stepping_draws_only_the_ground_truth():
    session = _replay([[0, 0, 40, 40]], [0.9], [1])
    layers, match = ground_truth_layers(session, GT, stepping=True)
    assert [layer.name for layer in layers] == ["ground_truth"] and match is None
    assert ground_truth_layers(session, None) == ([], None)


def test_an_image_without_objects_makes_every_detection_a_false_positive():
    empty = ImageBoxes(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), ())
    layers, match = ground_truth_layers(_replay([[0, 0, 40, 40]], [0.9], [1]), empty)
    assert match.counts == (0, 1, 0)
    assert [layer.name for layer in layers] == ["false_positive"]


def test_crowd_regions_and_classes_the_model_does_not_have():
    gt = ImageBoxes(np.array([[0, 0, 100, 100], [120, 0, 160, 40], [150, 150, 190, 190]], np.float32),
                    np.array([1, 1, -1]), ("cat", "cat", "zebra"), np.array([True, False, False]))
    session = _replay([[10, 10, 30, 30], [120, 0, 160, 40]], [0.9, 0.8], [1, 1])
    layers, match = ground_truth_layers(session, gt)
    by_name = {layer.name: layer for layer in layers}
    # the box inside the crowd region is ignored, the zebra cannot be missed by a model without zebras
    assert match.counts == (1, 0, 0) and match.ignored.tolist() == [True, False]
    assert "false_positive" not in by_name and "missed" not in by_name
    assert by_name["crowd_regions"].dashed and len(by_name["crowd_regions"]) == 1
    assert len(by_name["ground_truth"]) == 2  # the cat and the zebra are drawn
