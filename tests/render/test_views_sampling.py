"""Training samples view: one step per sampler the model has, the drawn boxes are the sampler's, the rule
read from the model is said."""

import numpy as np
import pytest
import torch

from detviewer.core.types import Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.sampling import SamplingViewState, samplers, sampling_frame, sampling_steps

GT = (np.array([[100, 100, 200, 220], [300, 50, 600, 400]], np.float32), np.array([1, 2]))


@pytest.fixture(scope="module")
def inferences():
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    out = {}
    for name in ("demo-frcnn", "demo-ssd"):
        torch.manual_seed(0)
        out[name] = load_detector(name, weights="none", device="cpu").infer(image)
    return out


def test_steps_follow_the_models_own_rules(inferences):
    assert samplers(inferences["demo-frcnn"]) == ["rcnn", "fast_rcnn", "box_head", "rpn"]
    assert samplers(inferences["demo-ssd"]) == ["rcnn", "fast_rcnn", "ssd"]
    assert sampling_steps(inferences["demo-ssd"]) == 3


def test_rcnn_step_on_hand_placed_regions(inferences):
    # four regions around GT 1 (100..200 × 100..220): itself, shifted 20 px (IoU 80/120 = 0.667), shifted 50 px
    # (50/150 = 0.333) and far away (0): 2 positives, 2 background; all drawn (fewer than 32 / 96)
    regions = np.array([[100, 100, 200, 220], [120, 100, 220, 220], [150, 100, 250, 220], [0, 400, 50, 450]],
                       np.float32)
    frame = sampling_frame(inferences["demo-frcnn"], SamplingViewState(regions=regions, step=0), gt=GT)
    assert frame.step_label == "R-CNN fine-tuning" and frame.step_count == 4
    assert frame.layer("sampled_positive").index.tolist() == [0, 1]
    assert frame.layer("sampled_negative").index.tolist() == [2, 3]
    np.testing.assert_array_equal(frame.layer("sampled_positive").xyxy, regions[:2])
    assert "of 4 Selective Search regions, 2 are positive and 2 background" in frame.caption
    fast = sampling_frame(inferences["demo-frcnn"], SamplingViewState(regions=regions, step=1), gt=GT)
    # Fast R-CNN: the far region (IoU 0 < 0.1) is unused
    assert fast.layer("sampled_negative").index.tolist() == [2] and dict(fast.table)["Unused (ignored)"] == "1"


def test_rpn_and_box_head_steps_use_the_models_samplers(inferences):
    inference = inferences["demo-frcnn"]
    box_head = sampling_frame(inference, SamplingViewState(step=2), gt=GT)
    n_pos, n_neg = len(box_head.layer("sampled_positive")), len(box_head.layer("sampled_negative"))
    # demo-frcnn's box head: 128 per image, at most 32 positive; 200 proposals + 2 ground-truth boxes
    assert n_pos <= 32 and n_pos + n_neg == 128
    assert dict(box_head.table)["Regions"].startswith("202 boxes (200 proposals + 2 ground-truth boxes")
    rpn = sampling_frame(inference, SamplingViewState(step=3), gt=GT)
    n_pos, n_neg = len(rpn.layer("sampled_positive")), len(rpn.layer("sampled_negative"))
    assert 0 < n_pos <= 128 and n_pos + n_neg == 256
    assert "The RPN's rule (Matcher 0.7 / 0.3)" in rpn.caption


def test_ssd_step_draws_matches_and_three_hard_negatives_each(inferences):
    frame = sampling_frame(inferences["demo-ssd"], SamplingViewState(step=2), gt=GT)
    n_pos, n_neg = len(frame.layer("sampled_positive")), len(frame.layer("sampled_negative"))
    assert n_pos > 0 and n_neg == 3 * n_pos
    assert len(frame.layer("positive_left_out")) == 0


def test_needs_ground_truth_and_regions():
    bare = Inference("demo-yolo", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="ground truth"):
        sampling_frame(bare)
    with pytest.raises(ViewError, match="Selective Search runs on the frame's pixels"):
        sampling_frame(bare, gt=(np.array([[1, 1, 5, 5]], np.float32), np.array([1])))
