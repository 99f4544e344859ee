import math

import numpy as np
import pytest

from detviewer.ops.before_cnn import crop_and_warp, selective_search, sliding_windows
from detviewer.ops.regression import ROI_HEAD_WEIGHTS, decode_deltas, encode_deltas


def test_deltas_match_the_lecture_formula_by_hand():
    anchor = [[0, 0, 100, 50]]        # centre (50, 25), w 100, h 50
    target = [[20, 10, 140, 110]]     # centre (80, 60), w 120, h 100
    dx, dy, dw, dh = encode_deltas(anchor, target)[0]
    assert dx == pytest.approx(30 / 100) and dy == pytest.approx(35 / 50)
    assert dw == pytest.approx(math.log(120 / 100)) and dh == pytest.approx(math.log(100 / 50))
    # Faster R-CNN's box head scales them by (10, 10, 5, 5)
    np.testing.assert_allclose(encode_deltas(anchor, target, ROI_HEAD_WEIGHTS)[0],
                               [3.0, 7.0, 5 * math.log(1.2), 5 * math.log(2)], rtol=1e-5)


def test_deltas_round_trip_through_boxcoder():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 300, (50, 2))
    anchors = np.concatenate([xy, xy + rng.uniform(5, 200, (50, 2))], 1)
    xy2 = rng.uniform(0, 300, (50, 2))
    targets = np.concatenate([xy2, xy2 + rng.uniform(5, 200, (50, 2))], 1)
    for weights in [(1, 1, 1, 1), ROI_HEAD_WEIGHTS]:
        deltas = encode_deltas(anchors, targets, weights)
        np.testing.assert_allclose(decode_deltas(anchors, deltas, weights), targets, rtol=1e-4, atol=1e-2)


def test_sliding_window_counts_by_hand():
    # 100x200 image (H, W), one 50x50 window moving 25 px: x in 0..150 (7), y in 0..50 (3) -> 21
    (scale,) = sliding_windows((100, 200), sizes=(50,), aspect_ratios=(1.0,), stride_fraction=0.5)
    assert (scale.width, scale.height, scale.stride) == (50, 50, 25)
    assert len(scale.boxes) == 21
    np.testing.assert_array_equal(scale.boxes[-1], [150, 50, 200, 100])
    # windows bigger than the image are skipped
    assert sliding_windows((100, 200), sizes=(300,), aspect_ratios=(1.0,)) == []


def test_selective_search_finds_a_box_around_a_clear_object():
    image = np.full((120, 160, 3), 30, np.uint8)
    image[40:80, 60:120] = (250, 250, 0)
    boxes, seconds = selective_search(image)
    assert seconds > 0 and len(boxes) > 0
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4
    target = np.array([60, 40, 120, 80], np.float32)
    assert np.abs(boxes - target).max(axis=1).min() <= 2  # some proposal hugs the object


def test_selective_search_maps_boxes_back_from_the_shrunken_image():
    image = np.full((400, 1000, 3), 30, np.uint8)
    image[100:300, 400:800] = (0, 200, 250)
    boxes, _ = selective_search(image, max_side=250)
    assert np.abs(boxes - np.array([400, 100, 800, 300])).max(axis=1).min() <= 8
    with pytest.raises(ValueError):
        selective_search(image, mode="slow")


def test_crop_and_warp_resizes_each_region_with_context():
    image = np.zeros((100, 100, 3), np.uint8)
    image[20:60, 30:50] = 255  # a 20 wide, 40 tall white box
    (warped,) = crop_and_warp(image, [[30, 20, 50, 60]], size=64, context=8)
    assert warped.shape == (64, 64, 3)
    # inside the 48x48 centre the warped region is white; the context border shows black surroundings
    assert warped[12:52, 12:52].min() >= 250
    assert warped[:4, :].max() <= 5 and warped[:, :4].max() <= 5
    assert crop_and_warp(image, np.zeros((0, 4))).shape == (0, 227, 227, 3)
