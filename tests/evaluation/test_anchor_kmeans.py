"""YOLOv2's k-means with 1 - IoU: the centred IoU by hand, three planted shape clusters found, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.evaluation.anchor_kmeans import centred_iou, kmeans_anchors


def test_centred_iou_by_hand():
    iou = centred_iou([[10, 10], [20, 5]], [[10, 10], [20, 5], [5, 5]])
    # (10x10, 20x5): overlap 10 x 5 = 50, union 100 + 100 - 50; (10x10, 5x5): 25 / 100; (20x5, 5x5): 25 / 100
    np.testing.assert_allclose(iou, [[1, 1 / 3, 0.25], [1 / 3, 1, 0.25]])


def test_three_planted_shapes_are_found():
    rng = np.random.default_rng(0)
    truth = np.array([[12.0, 40.0], [60.0, 20.0], [150.0, 150.0]])
    wh = np.concatenate([t * np.exp(rng.normal(0, 0.08, (n, 2))) for t, n in zip(truth, (900, 300, 60))])
    result = kmeans_anchors(wh, 3, seed=1)
    # sorted by area: 12x40 (480), 60x20 (1200), 150x150
    np.testing.assert_allclose(result.prototypes, truth, rtol=0.05)
    assert np.bincount(result.assignment).tolist() == [900, 300, 60]
    assert result.mean_iou == pytest.approx(centred_iou(wh, result.prototypes).max(axis=1).mean())
    assert result.mean_iou > 0.85
    np.testing.assert_allclose(result.ratios, result.prototypes[:, 1] / result.prototypes[:, 0])


def test_more_clusters_fit_better_and_runs_repeat():
    wh = np.exp(np.random.default_rng(2).normal(3, 0.7, (2000, 2)))
    fits = [kmeans_anchors(wh, k, seed=0).mean_iou for k in (1, 3, 9)]
    assert fits[0] < fits[1] < fits[2]
    a, b = kmeans_anchors(wh, 5, seed=7), kmeans_anchors(wh, 5, seed=7)
    np.testing.assert_array_equal(a.prototypes, b.prototypes)


def test_too_few_or_degenerate_boxes_are_refused():
    with pytest.raises(ValueError, match="at least k = 4"):
        kmeans_anchors(np.ones((3, 2)), 4)
    with pytest.raises(ValueError, match="positive"):
        kmeans_anchors([[1, 0], [2, 2]], 1)
