"""detviewer.ops.boxes: numpy front-ends to torchvision.ops, checked on hand-computed boxes."""

import numpy as np
import pytest
import torch

from detviewer.ops.boxes import as_numpy, as_tensor, box_area, box_iou_np, clip_boxes, from_xyxy, to_xyxy


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10],      # overlap 5x10 = 50, union 150
                  [20, 20, 30, 30],    # disjoint
                  [0, 0, 10, 10],      # identical
                  [10, 0, 20, 10]],    # touching edge: no +1, so IoU 0
                 np.float32)
    iou = box_iou_np(a, b)
    assert iou.shape == (1, 4) and iou.dtype == np.float32
    np.testing.assert_allclose(iou, [[50 / 150, 0.0, 1.0, 0.0]], rtol=1e-6)


def test_box_iou_accepts_tensors_lists_and_empty():
    iou = box_iou_np(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), [[1, 1, 3, 3]])  # 1 / (4 + 4 - 1)
    np.testing.assert_allclose(iou, [[1 / 7]], rtol=1e-6)
    assert box_iou_np(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_box_area_and_inverted_box():
    np.testing.assert_allclose(box_area([[0, 0, 2, 3], [1, 1, 1, 5], [2, 0, 0, 3]]), [6.0, 0.0, -6.0])


def test_clip_boxes_to_height_width():
    clipped = clip_boxes([[-5, -5, 50, 20], [3, 4, 5, 6]], (10, 40))
    np.testing.assert_array_equal(clipped, [[0, 0, 40, 10], [3, 4, 5, 6]])


def test_format_conversions_round_trip():
    cxcywh = np.array([[5, 5, 10, 4]], np.float32)
    np.testing.assert_array_equal(to_xyxy(cxcywh, "cxcywh"), [[0, 3, 10, 7]])
    np.testing.assert_array_equal(to_xyxy([[1, 2, 3, 4]], "xywh"), [[1, 2, 4, 6]])
    np.testing.assert_array_equal(from_xyxy([[0, 3, 10, 7]], "cxcywh"), cxcywh)
    np.testing.assert_array_equal(from_xyxy([[1, 2, 4, 6]], "xywh"), [[1, 2, 3, 4]])


def test_bad_shape_and_format_raise_value_error():
    with pytest.raises(ValueError, match="shape"):
        box_area([[1, 2, 3]])
    with pytest.raises(ValueError, match="format"):
        to_xyxy([[0, 0, 1, 1]], "yxyx")


def test_conversion_helpers():
    reversed_view = np.arange(8, dtype=np.float32).reshape(2, 4)[::-1]  # negative strides
    assert as_tensor(reversed_view).tolist() == [[4, 5, 6, 7], [0, 1, 2, 3]]
    assert as_tensor([1, 2], torch.float64).dtype == torch.float64
    np.testing.assert_array_equal(as_numpy(torch.tensor([1, 2])), [1, 2])
