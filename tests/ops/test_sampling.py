"""Training-time samplers: the papers' rules and the model's own, counted against hand-computed cases."""

import numpy as np
import pytest

from detviewer.core.types import MatchRule
from detviewer.ops.sampling import (
    fast_rcnn_labels,
    match_with_rule,
    rcnn_labels,
    sample_fast_rcnn,
    sample_model,
    sample_rcnn,
    sample_uniform,
    sample_with_rule,
)

RPN = MatchRule("rpn", "Matcher", 0.7, 0.3, True, batch_size=256, positive_fraction=0.5)
BOX_HEAD = MatchRule("box_head", "Matcher", 0.5, 0.5, False, batch_size=512, positive_fraction=0.25,
                     box_weights=(10.0, 10.0, 5.0, 5.0))


def _labels(positives: int, negatives: int, ignored: int = 0) -> np.ndarray:
    return np.array([1] * positives + [0] * negatives + [-1] * ignored, np.int8)


def test_rcnn_labels_at_iou_half_and_its_32_plus_96_minibatch():
    np.testing.assert_array_equal(rcnn_labels([0.7, 0.5, 0.4999, 0.1, 0.0]), [1, 1, 0, 0, 0])
    # plenty of both: exactly 32 positives and 96 background regions
    pos, neg = sample_uniform(_labels(40, 200), 32, 96, seed=1)
    assert (len(pos), len(neg)) == (32, 96)
    assert set(pos) <= set(range(40)) and set(neg) <= set(range(40, 240))
    # fewer than asked: all of them (R-CNN's split is fixed, background does not fill in)
    pos, neg = sample_uniform(_labels(10, 50), 32, 96)
    assert (len(pos), len(neg)) == (10, 50)


def test_fast_rcnn_labels_and_its_64_roi_sampler():
    # foreground at IoU >= 0.5, background in [0.1, 0.5), unused below 0.1
    np.testing.assert_array_equal(fast_rcnn_labels([0.5, 0.49, 0.1, 0.099, 0.0]), [1, 0, 0, -1, -1])
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [5, 0, 15, 10], [9, 0, 19, 10], [50, 50, 60, 60]], np.float32)
    gt = np.array([[0, 0, 10, 10]], np.float32)
    # IoUs 1, 80/120 = 0.667, 50/150 = 0.333, 10/190 = 0.053, 0
    s = sample_fast_rcnn(boxes, gt)
    np.testing.assert_allclose(s.max_iou, [1, 2 / 3, 1 / 3, 10 / 190, 0], atol=1e-6)
    np.testing.assert_array_equal(s.labels, [1, 1, 0, -1, -1])
    np.testing.assert_array_equal(s.positive, [0, 1]) and np.testing.assert_array_equal(s.negative, [2])
    np.testing.assert_array_equal(s.matched_gt, [0, 0, -1, -1, -1])
    r = sample_rcnn(boxes, gt)
    np.testing.assert_array_equal(r.labels, [1, 1, 0, 0, 0])  # R-CNN: everything else is background
    np.testing.assert_array_equal(r.negative, [2, 3, 4])


@pytest.mark.parametrize("positives, negatives, expected", [
    (30, 100, (16, 48)),   # 25 % of 64 = 16 foreground; background fills the other 48
    (5, 100, (5, 59)),     # few foreground: background fills 64 - 5
    (5, 20, (5, 20)),      # not enough of either: everything
])
def test_fast_rcnn_minibatch_counts(positives, negatives, expected):
    from detviewer.ops.assign import sample_rpn_minibatch

    pos, neg = sample_rpn_minibatch(_labels(positives, negatives, 7), 64, 0.25)
    assert (len(pos), len(neg)) == expected
    assert not set(neg) & set(range(positives + negatives, positives + negatives + 7))  # unused never drawn


@pytest.mark.parametrize("rule, positives, negatives, expected", [
    (RPN, 8, 16000, (8, 248)),          # RPN: 256 per image, at most 128 positive
    (RPN, 300, 16000, (128, 128)),
    (BOX_HEAD, 200, 1000, (128, 384)),  # box head: 512 per image, at most 25 % = 128 positive
    (BOX_HEAD, 20, 1000, (20, 492)),
])
def test_model_samplers_counts(rule, positives, negatives, expected):
    pos, neg = sample_with_rule(_labels(positives, negatives, 5), rule, seed=3)
    assert (len(pos), len(neg)) == expected


def test_ssd_and_retinanet_rules_draw_every_labelled_box():
    ssd = MatchRule("ssd", "SSDMatcher", 0.5, 0.5, True, neg_to_pos=3.0)
    pos, neg = sample_with_rule(_labels(3, 10, 2), ssd)
    assert (len(pos), len(neg)) == (3, 10)


def test_box_head_rule_labels_proposals_and_added_ground_truth():
    gt = np.array([[0, 0, 10, 10]], np.float32)
    proposals = np.array([[2, 0, 12, 10], [5, 0, 15, 10], [50, 50, 60, 60]], np.float32)
    boxes = np.concatenate([proposals, gt])  # torchvision appends the ground truth to the proposals
    labels, matched, max_iou = match_with_rule(boxes, gt, BOX_HEAD)
    np.testing.assert_array_equal(labels, [1, 0, 0, 1])  # 0.667 and 1 positive, 0.333 and 0 negative
    np.testing.assert_array_equal(matched, [0, -1, -1, 0])
    s = sample_model(boxes, gt, BOX_HEAD)
    np.testing.assert_array_equal(s.positive, [0, 3]) and np.testing.assert_array_equal(s.negative, [1, 2])
