"""YOLOv1 loss terms on hand-computed cases (S=2, B=2, C=2, 64x64 input)."""

import math

import pytest
import torch

from detviewer.training.yolo_loss import assign_cells, yolo_v1_loss

S, B, C, SIZE = 2, 2, 2, 64


def _zeros_raw():
    # all-zero logits: every box is centred in its cell, sqrt(w/W) = 0.5 -> 16x16 px, confidence 0.5,
    # class probabilities (0.5, 0.5)
    return torch.zeros(1, S, S, 5 * B + C, requires_grad=True)


def test_terms_for_one_object_match_hand_computation():
    # object centred at (20, 20), 16 x 36 px -> cell (row 0, col 0), offset (0.625, 0.625),
    # sqrt(w/W) = 0.5, sqrt(h/H) = 0.75; both predicted boxes are (8, 8, 24, 24):
    # intersection 12 x 16 = 192, union 256 + 576 - 192 = 640, IoU 0.3; box 0 is responsible.
    target = [{"boxes": torch.tensor([[12.0, 2.0, 28.0, 38.0]]), "labels": torch.tensor([2])}]
    terms = yolo_v1_loss(_zeros_raw(), target, SIZE, B, class_loss="mse")
    expected = {
        "coord": 5 * (0.125 ** 2 + 0.125 ** 2),         # 0.15625
        "size": 5 * (0.0 ** 2 + 0.25 ** 2),             # 0.3125
        "obj": (0.5 - 0.3) ** 2,                        # 0.04
        "noobj": 0.5 * 7 * 0.5 ** 2,                    # 7 non-responsible predictors
        "cls": (0.5 - 0.0) ** 2 + (0.5 - 1.0) ** 2,     # label 2 -> one-hot (0, 1)
    }
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, abs=1e-6), name


def test_cross_entropy_class_term_and_gradients():
    target = [{"boxes": torch.tensor([[12.0, 2.0, 28.0, 38.0]]), "labels": torch.tensor([1])}]
    raw = _zeros_raw()
    terms = yolo_v1_loss(raw, target, SIZE, B, class_loss="ce")
    assert terms["cls"].item() == pytest.approx(math.log(2), abs=1e-6)
    sum(terms.values()).backward()
    # the responsible predictor's x offset must be pushed up (target 0.625 > 0.5)
    assert raw.grad[0, 0, 0, 0] < 0
    # an empty cell only receives the no-object gradient, on the confidence logits
    assert raw.grad[0, 1, 1, 4] > 0 and raw.grad[0, 1, 1, :4].abs().sum() == 0


def test_empty_image_has_only_noobj_term():
    terms = yolo_v1_loss(_zeros_raw(), [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}],
                         SIZE, B)
    assert terms["noobj"].item() == pytest.approx(0.5 * 8 * 0.25)
    assert all(terms[k].item() == 0 for k in ("coord", "size", "obj", "cls"))


def test_responsible_box_is_the_one_with_higher_iou():
    raw = torch.zeros(1, S, S, 5 * B + C)
    raw[0, 0, 0, 5 + 2] = math.log(3)   # box 1: sqrt(w/W) 0.75 -> 36 px wide, closer to a wide object
    target = [{"boxes": torch.tensor([[0.0, 8.0, 36.0, 24.0]]), "labels": torch.tensor([1])}]
    raw.requires_grad_(True)
    terms = yolo_v1_loss(raw, target, SIZE, B)
    # box 1 spans x -2..34, clipped to 0..34, y 8..24: IoU 34*16 / (36*16) = 544/576 (box 0: 256/576)
    assert terms["obj"].item() == pytest.approx((0.5 - 544 / 576) ** 2, abs=1e-6)


def test_shared_cell_goes_to_the_larger_object_and_bad_labels_raise():
    boxes = torch.tensor([[4.0, 4.0, 12.0, 12.0], [0.0, 0.0, 30.0, 30.0]])
    obj, box, offset, sqrt_wh, cls = assign_cells([{"boxes": boxes, "labels": torch.tensor([1, 2])}], S, (SIZE, SIZE), C)
    assert obj.sum() == 1 and obj[0, 0, 0]
    assert torch.equal(box[0, 0, 0], boxes[1]) and cls[0, 0, 0] == 1
    assert offset[0, 0, 0].tolist() == pytest.approx([15 / 32, 15 / 32])
    with pytest.raises(ValueError):
        assign_cells([{"boxes": boxes, "labels": torch.tensor([0, 3])}], S, (SIZE, SIZE), C)


def test_small_box_weight_scales_only_the_box_terms_by_two_minus_wh():
    # the object of the hand-computed case: 16 x 36 px of 64 x 64 -> w h = 0.25 * 0.5625; weight 2 - 0.140625
    target = [{"boxes": torch.tensor([[12.0, 2.0, 28.0, 38.0]]), "labels": torch.tensor([2])}]
    plain = yolo_v1_loss(_zeros_raw(), target, SIZE, B, class_loss="mse")
    weighted = yolo_v1_loss(_zeros_raw(), target, SIZE, B, class_loss="mse", small_box_weight=True)
    weight = 2 - (16 / 64) * (36 / 64)
    assert weighted["coord"].item() == pytest.approx(plain["coord"].item() * weight, abs=1e-6)
    assert weighted["size"].item() == pytest.approx(plain["size"].item() * weight, abs=1e-6)
    for name in ("obj", "noobj", "cls"):
        assert weighted[name].item() == pytest.approx(plain[name].item(), abs=1e-7), name
