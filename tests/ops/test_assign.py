"""Anchor <-> GT assignment on hand-made boxes; every IoU below is worked out by hand."""

import numpy as np
import pytest
import torch

from detviewer.ops.assign import hard_negative_mining, label_rpn_anchors, match_ssd_default_boxes, sample_rpn_minibatch

GT = [[0, 0, 10, 10], [100, 100, 110, 120]]  # areas 100 and 200
ANCHORS = [
    [0, 0, 10, 10],        # IoU with GT0 = 100/100 = 1.0   -> positive
    [0, 0, 10, 8],         # 80/100 = 0.8                    -> positive
    [0, 0, 10, 7],         # 70/100 = 0.7, equal to fg_iou   -> positive (>=)
    [0, 0, 10, 5],         # 0.5, between 0.3 and 0.7        -> ignored
    [0, 0, 10, 3],         # 0.3, equal to bg_iou            -> ignored (negative is < 0.3)
    [0, 0, 10, 2],         # 0.2                             -> negative
    [50, 50, 60, 60],      # 0                               -> negative
    [100, 100, 110, 110],  # IoU with GT1 = 100/200 = 0.5, yet GT1's best anchor -> positive
]


def test_rpn_labels_by_hand():
    labels, matched, max_iou = label_rpn_anchors(ANCHORS, GT)
    assert labels.dtype == np.int8 and matched.dtype == np.int64 and max_iou.dtype == np.float32
    assert labels.tolist() == [1, 1, 1, -1, -1, 0, 0, 1]
    assert matched.tolist() == [0, 0, 0, -1, -1, -1, -1, 1]
    np.testing.assert_allclose(max_iou, [1.0, 0.8, 0.7, 0.5, 0.3, 0.2, 0.0, 0.5], rtol=1e-6)


def test_rpn_without_low_quality_rescue_when_thresholds_allow():
    # With fg_iou 0.5 the last anchor qualifies on its own; the 0.5 one (index 3) too.
    labels, _, _ = label_rpn_anchors(ANCHORS, GT, fg_iou=0.5, bg_iou=0.25)
    assert labels.tolist() == [1, 1, 1, 1, -1, 0, 0, 1]


def test_rpn_ties_for_best_anchor_are_all_positive():
    # Both anchors have IoU 50/150 = 1/3 with the GT: both are its best, both become positive.
    labels, matched, _ = label_rpn_anchors([[0, 0, 10, 10], [10, 0, 20, 10]], [[5, 0, 15, 10]])
    assert labels.tolist() == [1, 1] and matched.tolist() == [0, 0]


def test_rpn_gt_overlapping_no_anchor_makes_zero_iou_anchors_positive():
    # torchvision quirk kept on purpose: GT1 overlaps nothing, its best IoU is 0, and every
    # anchor with IoU 0 to it is a "best" anchor - each matched to its own best GT (GT0 first).
    labels, matched, _ = label_rpn_anchors([[0, 0, 10, 10], [20, 20, 30, 30]], [[0, 0, 10, 10], [100, 100, 110, 110]])
    assert labels.tolist() == [1, 1] and matched.tolist() == [0, 0]


def test_rpn_no_gt_means_all_negative():
    labels, matched, max_iou = label_rpn_anchors(ANCHORS, np.zeros((0, 4)))
    assert labels.tolist() == [0] * 8 and matched.tolist() == [-1] * 8 and max_iou.tolist() == [0.0] * 8


def test_ssd_matching_by_hand():
    default_boxes = [
        [0, 0, 10, 10],    # IoU with GT0 = 1.0       -> positive, GT0
        [0, 0, 10, 6],     # 60/100 = 0.6 >= 0.5      -> positive, GT0
        [0, 0, 10, 4],     # 0.4                      -> background
        [40, 40, 50, 50],  # GT1 (40,40,60,60): 100/400 = 0.25, but GT1's best box -> positive, GT1
    ]
    labels, matched, max_iou = match_ssd_default_boxes(default_boxes, [[0, 0, 10, 10], [40, 40, 60, 60]])
    assert labels.tolist() == [1, 1, 0, 1]
    assert matched.tolist() == [0, 0, -1, 1]
    np.testing.assert_allclose(max_iou, [1.0, 0.6, 0.4, 0.25], rtol=1e-6)
    # 0.5 exactly is a match (>=)
    labels, _, _ = match_ssd_default_boxes([[0, 0, 10, 10], [0, 0, 10, 5]], [[0, 0, 10, 10]])
    assert labels.tolist() == [1, 1]


def test_ssd_no_gt_is_all_background():
    labels, matched, _ = match_ssd_default_boxes(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), [])
    assert labels.tolist() == [0] and matched.tolist() == [-1]


def test_sampler_caps_positives_and_fills_with_negatives():
    labels = np.r_[np.ones(10), np.zeros(1000), -np.ones(50)]
    pos, neg = sample_rpn_minibatch(labels, batch_size=256, positive_fraction=0.5)
    # 10 positives available (< 128 allowed), so 256 - 10 = 246 negatives
    assert pos.tolist() == list(range(10))
    assert len(neg) == 246 and np.all((neg >= 10) & (neg < 1010)) and len(set(neg.tolist())) == 246

    labels = np.r_[np.ones(200), np.zeros(50)]
    pos, neg = sample_rpn_minibatch(labels, batch_size=256, positive_fraction=0.5)
    # at most int(256 * 0.5) = 128 positives; only 50 negatives exist
    assert len(pos) == 128 and np.all(pos < 200)
    assert neg.tolist() == list(range(200, 250))


def test_sampler_is_repeatable_and_leaves_global_rng_alone():
    labels = np.r_[np.ones(300), np.zeros(3000)]
    state = torch.get_rng_state()
    first = sample_rpn_minibatch(labels, seed=7)
    assert torch.equal(state, torch.get_rng_state())
    again = sample_rpn_minibatch(labels, seed=7)
    other = sample_rpn_minibatch(labels, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])


def test_hard_negative_mining_by_hand():
    losses = [2.0, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7]
    labels = [1, 0, 0, 0, 0, 0, 0]
    # one positive -> 3 negatives: the highest losses among the negatives, hardest first;
    # the positive's loss (2.0) is never a candidate
    assert hard_negative_mining(losses, labels).tolist() == [1, 4, 6]
    assert hard_negative_mining(losses, labels, ratio=1).tolist() == [1]
    # no positive -> no negatives
    assert hard_negative_mining(losses, [0] * 7).tolist() == []
    # more asked for (2 positives x 3 = 6) than exist (1 negative); ignored (-1) never picked
    assert hard_negative_mining([0.1, 0.2, 0.3, 0.9], [1, 3, 0, -1]).tolist() == [2]


def test_bad_shapes_raise_value_error():
    with pytest.raises(ValueError, match="anchors"):
        label_rpn_anchors([[0, 0, 1]], GT)
    with pytest.raises(ValueError, match="same length"):
        hard_negative_mining([0.1, 0.2], [1])
