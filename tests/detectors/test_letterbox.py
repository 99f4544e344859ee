"""Ultralytics' letterbox and scale_boxes, against geometry worked out by hand from their formulas
(LetterBox.get_params: ratio, rounded sides, pads round(d / 2 ∓ 0.1); scale_boxes: per-axis gains from the
rounded sides). test_ultralytics_parity.py checks the same functions against Ultralytics itself when installed."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.detectors.letterbox import (
    BoxMapping,
    LetterboxGeometry,
    clip_boxes,
    letterbox_geometry,
    letterbox_image,
    to_input_batch,
    ultralytics_box_mapping,
    yolov5_box_mapping,
)

# image (H0, W0), target (H, W), minimum rectangle -> input (H, W), resized (h, w), top, left
GEOMETRY_TABLE = [
    # 240 x 320 in 320 x 320: no resize, 80 rows of padding split 40 / 40
    ((240, 320), (320, 320), False, (320, 320), (240, 320), 40, 0),
    # ratio 320 / 517: 299 rows -> round(185.07) = 185; 135 rows of padding: top round(67.4) = 67, bottom 68
    ((299, 517), (320, 320), False, (320, 320), (185, 320), 67, 0),
    # the same image, dynamic export: padding 135 mod 32 = 7 -> top round(3.4) = 3, bottom round(3.6) = 4
    ((299, 517), (320, 320), True, (192, 320), (185, 320), 3, 0),
    # a tall image in a 256 x 320 export: ratio 256 / 517, 299 cols -> round(148.05) = 148; 172 cols: 86 / 86
    ((517, 299), (256, 320), False, (256, 320), (256, 148), 0, 86),
    # tall, dynamic: ratio 320 / 517, 299 -> 185 cols; 135 mod 32 = 7 -> left 3, right 4
    ((517, 299), (320, 320), True, (320, 192), (320, 185), 0, 3),
    # small square image scaled up 2.5x; nothing to pad
    ((128, 128), (320, 320), True, (320, 320), (320, 320), 0, 0),
    # a 1 x 3000 line keeps one row; 319 rows of padding: top round(159.4) = 159, bottom 160
    ((1, 3000), (320, 320), False, (320, 320), (1, 320), 159, 0),
]


@pytest.mark.parametrize("image_hw, target_hw, minimum, input_hw, resized_hw, top, left", GEOMETRY_TABLE)
def test_letterbox_geometry_by_hand(image_hw, target_hw, minimum, input_hw, resized_hw, top, left):
    geometry = letterbox_geometry(image_hw, target_hw, stride=32, minimum_rectangle=minimum)
    assert (geometry.input_hw, geometry.resized_hw, geometry.top, geometry.left) == (input_hw, resized_hw, top, left)
    assert geometry.ratio == pytest.approx(min(target_hw[0] / image_hw[0], target_hw[1] / image_hw[1]))


def test_letterbox_image_places_the_resized_image_on_grey():
    image = np.zeros((240, 320, 3), np.uint8)
    image[100:140, 150:170] = (255, 0, 0)
    canvas = letterbox_image(image, letterbox_geometry((240, 320), (320, 320)))
    assert canvas.shape == (320, 320, 3) and canvas.dtype == np.uint8
    assert (canvas[:40] == 114).all() and (canvas[280:] == 114).all()
    assert canvas[40 + 120, 160].tolist() == [255, 0, 0] and canvas[40, 0].tolist() == [0, 0, 0]
    batch = to_input_batch(canvas)
    assert batch.shape == (1, 3, 320, 320) and batch.dtype == np.float32
    assert batch[0, 0, 160, 160] == 1.0 and batch[0, 1, 10, 10] == np.float32(114) / np.float32(255)
    assert to_input_batch(canvas, np.float16).dtype == np.float16


def test_letterbox_image_resizes_with_opencv_bilinear():
    import cv2

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (299, 517, 3), dtype=np.uint8)
    geometry = letterbox_geometry(image.shape[:2], (320, 320))
    canvas = letterbox_image(image, geometry)
    expected = cv2.resize(image, (320, 185), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(canvas[67:67 + 185], expected)
    assert (canvas[:67] == 114).all() and (canvas[67 + 185:] == 114).all()


def test_ultralytics_box_mapping_uses_the_rounded_sides_per_axis():
    # 299 x 517 in 320 x 320: gain 320 / 517; rows round(185.07) = 185 -> gain_y = 185 / 299, pad_y round(67.4) = 67
    mapping = ultralytics_box_mapping((320, 320), (299, 517))
    assert mapping == BoxMapping(320 / 517, 185 / 299, 0.0, 67.0)
    boxes = mapping.to_original(np.array([[10, 67, 330, 252]], np.float32))
    np.testing.assert_allclose(boxes, [[10 * 517 / 320, 0, 330 * 517 / 320, 299]], rtol=1e-6)
    np.testing.assert_allclose(clip_boxes(boxes, (299, 517)), [[10 * 517 / 320, 0, 517, 299]], rtol=1e-6)
    # dynamic export of the same image: 192 x 320 input, 7 rows of padding -> pad_y round(3.4) = 3
    assert ultralytics_box_mapping((192, 320), (299, 517)) == BoxMapping(320 / 517, 185 / 299, 0.0, 3.0)


def test_yolov5_box_mapping_uses_one_gain_and_unrounded_pads():
    gain = 320 / 517
    mapping = yolov5_box_mapping((320, 320), (299, 517))
    assert mapping.gain_x == mapping.gain_y == pytest.approx(gain)
    assert (mapping.pad_x, mapping.pad_y) == pytest.approx((0.0, (320 - 299 * gain) / 2))  # 67.466
    np.testing.assert_allclose(mapping.to_original(np.array([[0, 100, 320, 200]], np.float32)),
                               [[0, (100 - 67.46615) / gain, 517, (200 - 67.46615) / gain]], rtol=1e-5)


def test_box_mapping_inverts_the_letterbox_for_exact_scales():
    # 160 x 240 -> 320 x 320: ratio 4/3, 213.33 rows round to 213, pads 53 / 54; a box maps back within float error
    geometry = letterbox_geometry((160, 240), (320, 320))
    assert geometry == LetterboxGeometry((320, 320), (213, 320), 53, 0, 320 / 240)
    mapping = ultralytics_box_mapping(geometry.input_hw, (160, 240))
    original = np.array([[24, 30, 120, 150]], np.float32)
    on_input = np.array([[24 * 320 / 240, 30 * 213 / 160 + 53, 120 * 320 / 240, 150 * 213 / 160 + 53]], np.float32)
    np.testing.assert_allclose(mapping.to_original(on_input), original, rtol=1e-6)
