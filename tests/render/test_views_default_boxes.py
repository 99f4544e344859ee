"""SSD default-box view: the SSD300 table, s_k / s'_k and box sizes by hand, grid lines at SSD300's
steps, matching and hard negative mining on a hand-made case."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torchvision.models.detection import ssd300_vgg16
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator

from detviewer.core.types import Detections, Inference, MatchRule
from detviewer.detectors.registry import load_detector
from detviewer.detectors.torchvision_adapter import match_rules
from detviewer.ops.anchors import cell_at, run_generator
from detviewer.render.model.geometry import level_grid
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.default_boxes import (
    DefaultBoxViewState,
    box_shapes,
    default_boxes_frame,
    default_boxes_steps,
    scale_formula,
    ssd_matching,
    ssd_scale_list,
)


def inference_from_generator(generator, input_size, grids, image_size, objectness=None, rules=None):
    sets = run_generator(generator, input_size, grids)
    sy, sx = input_size[0] / image_size[0], input_size[1] / image_size[1]
    factor = np.array([sx, sy, sx, sy], np.float32)
    out = []
    for s in sets:
        out.append(replace(s, boxes=s.boxes / factor, objectness=None if objectness is None else objectness(len(s))))
    if rules is None:  # torchvision's SSD defaults: SSDMatcher(0.5), positive_fraction 0.25 -> 3 negatives per positive
        rules = (MatchRule("ssd", "SSDMatcher", 0.5, 0.5, True, neg_to_pos=3.0, box_weights=(10.0, 10.0, 5.0, 5.0)),)
    return Inference(model_name="hand-ssd", image_size=image_size, detections=Detections.empty(),
                     candidates=Detections.empty(), anchors=tuple(out), input_size=input_size, scale=(sy, sx),
                     rules=tuple(rules))


@pytest.fixture(scope="module")
def ssd300():
    """ssd300_vgg16's own DefaultBoxGenerator on a 480×640 image (input 300×300)."""
    model = ssd300_vgg16(weights=None, weights_backbone=None)
    grids = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    return inference_from_generator(model.anchor_generator, (300, 300), grids, (480, 640),
                                    rules=match_rules(model, "ssd"))


def test_ssd300_counts_per_scale_and_total(ssd300):
    frame = default_boxes_frame(ssd300, DefaultBoxViewState(scale=0))
    rows = dict(frame.table)
    assert [rows[f"k = {k}"] for k in range(1, 7)] == [
        "38×38 × 4 = 5,776", "19×19 × 6 = 2,166", "10×10 × 6 = 600", "5×5 × 6 = 150", "3×3 × 4 = 36",
        "1×1 × 4 = 4"]
    assert rows["Total"] == "5,776 + 2,166 + 600 + 150 + 36 + 4 = 8,732"
    assert default_boxes_steps(ssd300) == 7  # six scales, then the two scale sets
    assert frame.caption.startswith("Scale k = 1 of 6: a 38×38 map, 4 default boxes per cell (s₁ = 0.07, 21 px")


def test_ssd300_scale_formula_with_its_numbers(ssd300):
    scales = ssd_scale_list(ssd300)
    assert scales == pytest.approx([0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05])
    rows = dict(scale_formula(scales, 3))
    # torchvision sets s₁ = 0.07 apart and spaces 0.15 … 0.87 linearly over k = 2…6
    assert rows["Formula"] == "s₁ = 0.07 set apart; for k = 2…6: sₖ = 0.15 + (0.87 − 0.15)(k − 2)/4"
    assert rows["s₃"] == "0.15 + 0.72·1/4 = 0.33"
    assert rows["s′₃"] == "√(s₃·s₄) = √(0.33·0.51) = 0.41"


def test_ssd300_table_with_the_papers_and_the_models_scales(ssd300):
    """Last step: the paper's sₖ = 0.2 + 0.7(k − 1)/5 for m = 6 beside torchvision's COCO scales, in px of 300."""
    frame = default_boxes_frame(ssd300, DefaultBoxViewState(step=6))
    rows = dict(frame.table)
    # paper: 0.2, 0.34, 0.48, 0.62, 0.76, 0.9 (60, 102, 144, 186, 228, 270 px); model 0.07 … 0.87 (21 … 261 px)
    assert [rows[f"s{c}"] for c in "₁₂₃₄₅₆"] == [
        "paper 0.2 (60 px) · model 0.07 (21 px)", "paper 0.34 (102 px) · model 0.15 (45 px)",
        "paper 0.48 (144 px) · model 0.33 (99 px)", "paper 0.62 (186 px) · model 0.51 (153 px)",
        "paper 0.76 (228 px) · model 0.69 (207 px)", "paper 0.9 (270 px) · model 0.87 (261 px)"]
    assert rows["s′₆"] == "model √(s₆·s₇) = √(0.87·1.05) = 0.96: s₇ exists only for this"
    assert "COCO setting (§3.4)" in frame.caption and "0.2, 0.34, 0.48, 0.62, 0.76, 0.9 (dashed)" in frame.caption
    assert frame.step == 6 and frame.step_count == 7
    # squares of side sₖ·300 input px, centred, in original pixels (×640/300 wide, ×480/300 high)
    model = frame.layer("model_scales").xyxy
    np.testing.assert_allclose(model[0], [320 - 0.07 * 320, 240 - 0.07 * 240, 320 + 0.07 * 320, 240 + 0.07 * 240],
                               atol=1e-3)
    assert frame.layer("model_scales").labels == ("s₁", "s₂", "s₃", "s₄", "s₅", "s₆")


def test_linear_scale_formula_of_the_paper():
    # SSDlite's generator: min_ratio 0.2, max_ratio 0.95 over six maps (+ 1.0)
    generator = DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95)
    rows = dict(scale_formula(list(generator.scales), 3))
    assert rows["Formula"] == "sₖ = s_min + (s_max − s_min)(k − 1)/(m − 1) = 0.2 + (0.95 − 0.2)(k − 1)/5"
    assert rows["s₃"] == "0.2 + 0.75·2/5 = 0.5"
    hand = dict(scale_formula([0.07, 0.15, 0.3, 0.55, 0.8], 2))
    assert hand["Scales"] == "set by hand: 0.07, 0.15, 0.3, 0.55 (not the linear formula)"


def test_the_boxes_of_a_cell_have_the_papers_sizes(ssd300):
    # k = 2 (19×19, step 16): cell (9, 9) is centred at 9.5·16 = 152 input px; s_2 = 0.15, s_3 = 0.33.
    frame = default_boxes_frame(ssd300, DefaultBoxViewState(scale=1, cell=(9, 9)))
    boxes = frame.layer("cell_boxes").xyxy * np.array([300 / 640, 300 / 480] * 2, np.float32)  # to input px
    s, s_next = 0.15 * 300, math.sqrt(0.15 * 0.33) * 300
    r2, r3 = math.sqrt(2), math.sqrt(3)
    wh = [(s, s), (s_next, s_next), (s * r2, s / r2), (s / r2, s * r2), (s * r3, s / r3), (s / r3, s * r3)]
    expected = [(152 - w / 2, 152 - h / 2, 152 + w / 2, 152 + h / 2) for w, h in wh]
    np.testing.assert_allclose(boxes, expected, atol=0.05)
    assert frame.layer("cell_boxes").labels == ("1:1 sₖ", "1:1 s′ₖ", "2:1", "1:2", "3:1", "1:3")
    assert box_shapes(ssd300.anchors[1]) == list(frame.layer("cell_boxes").labels)


def test_grid_lines_sit_at_ssd300s_steps_not_at_300_over_38(ssd300):
    # k = 1: centres at (j + 0.5)·8 input px, so cell borders at multiples of 8 (0 … 296 inside 300 px).
    frame = default_boxes_frame(ssd300, DefaultBoxViewState(scale=0))
    segments = frame.layer("grid").segments
    vertical = segments[segments[:, 0] == segments[:, 2]]
    xs_input = np.sort(vertical[:, 0]) * 300 / 640
    np.testing.assert_allclose(xs_input, np.arange(0, 300, 8), atol=1e-3)


def test_a_point_selects_the_cell_with_the_nearest_default_box_centre(ssd300):
    # input x = y = 150 lies between the centres 148 (cell 18) and 156 (cell 19): cell 18.
    point = (150 * 640 / 300, 150 * 480 / 300)
    grid = level_grid(ssd300.anchors[0], ssd300.scale)
    assert grid.cell_at(point) == (18, 18)
    assert cell_at(point, ssd300.anchors[0], ssd300.scale) == (18, 18)
    frame = default_boxes_frame(ssd300, DefaultBoxViewState(scale=0, point=point))
    centre = frame.layer("cell_boxes").xyxy[:, [0, 2]].mean(1) * 300 / 640
    np.testing.assert_allclose(centre, 148.0, atol=1e-3)


def _hand_ssd():
    # 64×64 image, one 2×2 map, s = 0.5 and s' = sqrt(0.5): per cell (order of the generator)
    # 32×32, 45.3×45.3, 45.3×22.6 (ratio 2), 22.6×45.3; cell centres at 16 and 48.
    generator = DefaultBoxGenerator([[2]], scales=[0.5, 1.0])
    objectness = lambda n: np.arange(n, dtype=np.float32) / n  # noqa: E731
    return inference_from_generator(generator, (64, 64), [(2, 2)], (64, 64), objectness)


def test_matching_and_hard_negative_mining_on_a_hand_made_case():
    inference = _hand_ssd()
    gt = np.array([[2, 2, 30, 30]], np.float32)  # 28×28 inside cell (0, 0)
    match = ssd_matching(inference, gt)
    # cell (0, 0): 32×32 box IoU 784/1024 = 0.77; ratio-2 boxes 28·22.6/(1024 + 784 − 28·22.6) = 0.54;
    # the s' box 784/2048 = 0.38; every other cell's boxes overlap less.
    np.testing.assert_array_equal(np.flatnonzero(match.labels == 1), [0, 2, 3])
    assert match.max_iou[0] == pytest.approx(784 / 1024)
    inter = 28 * 32 / math.sqrt(2)
    assert match.max_iou[2] == pytest.approx(inter / (1024 + 784 - inter), rel=1e-4)
    # 3 positives -> 9 negatives, the highest objectness (index / 16) among the background boxes
    np.testing.assert_array_equal(match.hard_negatives, [15, 14, 13, 12, 11, 10, 9, 8, 7])
    frame = default_boxes_frame(inference, DefaultBoxViewState(), gt=(gt, np.array([1])))
    assert sorted(frame.layer("matched").index.tolist()) == [0, 2, 3]
    assert sorted(frame.layer("hard_negatives").index.tolist()) == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    # one label per box: box 0 is also a box of the chosen cell (it carries its shape), so the match is unlabelled
    assert frame.layer("matched").labels == ("", "", "")
    other = default_boxes_frame(inference, DefaultBoxViewState(cell=(1, 1)), gt=(gt, np.array([1])))
    assert other.layer("matched").labels == ("IoU 0.77", "", "")  # the object's best box only
    # with a ground-truth box and no chosen cell, the cell of its centre (16, 16) is shown: cell (0, 0)
    assert frame.layer("cell").index.tolist() == [0]


def test_demo_ssd_inference_steps_through_every_scale():
    torch.manual_seed(0)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    inference = load_detector("demo-ssd", weights="none", device="cpu").infer(image)
    gt = (np.array([[100, 100, 200, 220], [300, 50, 600, 400]], np.float32), np.array([1, 2]))
    steps = default_boxes_steps(inference)
    assert steps == 5
    total_matched = 0
    for step in range(steps - 1):
        frame = default_boxes_frame(inference, DefaultBoxViewState(step=step), gt=gt)
        assert frame.step == step and frame.step_label == f"Scale k={step + 1}/4"
        assert len(frame.layer("cell_boxes")) == inference.anchors[step].anchors_per_location
        total_matched += len(frame.layer("matched"))
    match = ssd_matching(inference, gt[0])
    assert total_matched == int((match.labels == 1).sum()) > 0
    assert len(match.hard_negatives) == 3 * total_matched


def test_a_model_without_default_boxes_is_refused():
    inference = Inference("demo-yolo", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="no SSD default boxes"):
        default_boxes_frame(inference)
