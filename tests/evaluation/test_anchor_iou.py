"""Best IoU over a generator's anchors: a hand-worked 2x2 case, and the product-grid search against the brute
force on real torchvision generators (FPN levels, several sizes x ratios, SSD default boxes, non-square)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.ops import box_iou

from detviewer.core.types import AnchorSet
from detviewer.evaluation import anchor_iou
from detviewer.evaluation.anchor_iou import best_anchor_iou, brute_force_best_iou, grid_axes
from detviewer.ops.anchors import run_generator


def test_two_by_two_grid_by_hand():
    # sizes (10,), ratio 1, 20x20 input, 2x2 map: stride 10, anchors centred at 0 and 10
    (level,) = run_generator(AnchorGenerator(sizes=((10,),), aspect_ratios=((1.0,),)), (20, 20), [(2, 2)])
    np.testing.assert_array_equal(level.boxes, [[-5, -5, 5, 5], [5, -5, 15, 5], [-5, 5, 5, 15], [5, 5, 15, 15]])
    gt = np.array([[5, 5, 15, 15],     # the last anchor itself: 1
                   [6, -4, 16, 4],     # anchor 1: overlap 9 x 8 = 72, union 100 + 80 - 72 -> 2/3
                   [0, 0, 10, 10]])    # 5 x 5 with each of the four: 25 / 175
    best, lvl, arg = best_anchor_iou(gt, [level])
    np.testing.assert_allclose(best, [1.0, 2 / 3, 1 / 7])
    assert lvl.tolist() == [0, 0, 0] and arg[:2].tolist() == [3, 1]


def _generators():
    fpn = AnchorGenerator(sizes=((16, 24), (32, 48), (64, 96)), aspect_ratios=((0.5, 1.0, 2.0),) * 3)
    ssd = DefaultBoxGenerator([[2], [2, 3], [2]], scales=[0.1, 0.25, 0.5, 0.8], steps=[8, 16, 32])
    return [
        ("fpn, 2 sizes x 3 ratios", fpn, (224, 320), [(56, 80), (28, 40), (14, 20)]),
        ("ssd with steps, clipped", ssd, (256, 256), [(32, 32), (16, 16), (8, 8)]),
        ("ssd without steps, not square", DefaultBoxGenerator([[2, 3], [2]], scales=[0.2, 0.5, 0.9], clip=False),
         (192, 320), [(12, 20), (6, 10)]),
    ]


def _random_boxes(rng, n, h, w):
    centre = rng.uniform(-20, np.array([w, h]) + 20, (n, 2))
    wh = np.exp(rng.uniform(np.log(2), np.log(1.5 * max(h, w)), (n, 2)))
    return np.c_[centre - wh / 2, centre + wh / 2]


@pytest.mark.parametrize("name, generator, size, grids", _generators(), ids=[g[0] for g in _generators()])
def test_grid_search_equals_brute_force_on_real_generators(name, generator, size, grids):
    sets = run_generator(generator, size, grids)
    assert all(grid_axes(s) is not None for s in sets)
    gt = _random_boxes(np.random.default_rng(len(name)), 400, *size)
    best, level, arg = best_anchor_iou(gt, sets)
    everything = np.concatenate([s.boxes for s in sets])
    reference = box_iou(torch.as_tensor(gt, dtype=torch.float64), torch.as_tensor(everything, dtype=torch.float64))
    np.testing.assert_allclose(best, reference.max(dim=1).values.numpy(), rtol=0, atol=1e-6)
    offsets = np.cumsum([0] + [len(s) for s in sets])
    picked = reference.numpy()[np.arange(len(gt)), offsets[level] + arg]
    np.testing.assert_allclose(picked, best, rtol=0, atol=1e-6)  # the anchor returned reaches that IoU


def test_anchors_that_are_not_a_grid_fall_back_to_the_brute_force():
    rng = np.random.default_rng(3)
    boxes = _random_boxes(rng, 2 * 3 * 2, 60, 60).astype(np.float32)
    level = AnchorSet(level=0, boxes=boxes, feature_size=(2, 3), stride=(30.0, 20.0), anchors_per_location=2)
    assert grid_axes(level) is None
    gt = _random_boxes(rng, 50, 60, 60)
    best, _, arg = best_anchor_iou(gt, [level])
    ref_best, ref_arg = brute_force_best_iou(gt, boxes)
    np.testing.assert_array_equal(best, ref_best)
    np.testing.assert_array_equal(arg, ref_arg)


def test_progress_per_block_and_stop(monkeypatch):
    monkeypatch.setattr(anchor_iou, "GT_BLOCK", 10)
    sets = run_generator(AnchorGenerator(sizes=((16,),), aspect_ratios=((1.0,),)), (64, 64), [(8, 8)])
    gt = _random_boxes(np.random.default_rng(0), 35, 64, 64)
    seen = []
    best_anchor_iou(gt, sets, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 35), (20, 35), (30, 35), (35, 35)]
    calls = iter([False, False, True])
    best, level, _ = best_anchor_iou(gt, sets, should_stop=lambda: next(calls))
    assert (best[:20] >= 0).all() and (best[20:] == -1).all() and (level[20:] == -1).all()
