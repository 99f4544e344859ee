"""Proposals view: a hand-made RPN NMS case checked against torchvision.ops.nms, and demo-frcnn."""

import numpy as np
import pytest
import torch
import torchvision

from detviewer.core.types import Detections, Inference, Proposals
from detviewer.detectors.registry import load_detector
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.proposals import ProposalViewState, kept_by_rpn_nms, proposals_frame, proposals_steps

# A (0.9) and B (0.8) overlap with IoU 90/110 = 0.82 > 0.7, so the RPN's NMS removes B; C and D stay.
PRE = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [50, 50, 60, 60]], np.float32)
PRE_SCORES = np.array([0.9, 0.8, 0.7, 0.6], np.float32)


def hand_inference() -> Inference:
    keep = torchvision.ops.nms(torch.from_numpy(PRE), torch.from_numpy(PRE_SCORES), 0.7).numpy()
    assert keep.tolist() == [0, 2, 3]
    proposals = Proposals(PRE[keep], PRE_SCORES[keep], pre_nms_xyxy=PRE, pre_nms_objectness=PRE_SCORES,
                          iou_threshold=0.7)
    return Inference("hand-rpn", (100, 100), Detections.empty(), Detections.empty(), proposals=proposals)


def test_kept_mask_matches_torchvision_nms():
    np.testing.assert_array_equal(kept_by_rpn_nms(hand_inference().proposals), [True, False, True, True])


def test_before_nms_marks_the_removed_candidates():
    inference = hand_inference()
    assert proposals_steps(inference) == 2
    frame = proposals_frame(inference, ProposalViewState(step=0, top_k=2))
    assert frame.step_label == "Before NMS"
    assert frame.layer("removed_by_nms").index.tolist() == [1]
    assert frame.layer("proposals").index.tolist() == [0]
    assert frame.layer("proposals_top").labels == ("#1 0.90",)
    assert "the 2 highest-objectness of 4 candidate boxes" in frame.caption and "removes 1 of them" in frame.caption


def test_after_nms_shows_the_top_k_best_last():
    frame = proposals_frame(hand_inference(), ProposalViewState(top_k=10, selected=1))
    assert frame.step == 1 and "removed_by_nms" not in frame.names()
    assert frame.layer("proposals").index.tolist() == [2, 1, 0]  # drawn worst first, best on top
    assert frame.layer("proposals_top").labels == ("#1 0.90", "#2 0.70", "#3 0.60")
    np.testing.assert_array_equal(frame.layer("selected").xyxy, PRE[[2]])
    assert dict(frame.table)["After RPN NMS"] == "3 proposals (IoU 0.7)"


def test_demo_frcnn_proposals_come_from_its_pre_nms_candidates():
    torch.manual_seed(0)
    detector = load_detector("demo-frcnn", weights="none", device="cpu")
    head = detector.model.rpn.head  # spread the untrained objectness so that ranking means something
    torch.nn.init.normal_(head.cls_logits.weight, std=0.05)
    torch.nn.init.uniform_(head.cls_logits.bias, -0.5, 0.5)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    inference = detector.infer(image)
    p = inference.proposals
    assert kept_by_rpn_nms(p).sum() >= len(p) > 0
    frame = proposals_frame(inference, ProposalViewState(top_k=50))
    shown = frame.layer("proposals")
    assert len(shown) == 50
    assert np.all(np.diff(p.objectness[shown.index]) >= 0)  # ascending: the best drawn last
    assert p.objectness[shown.index[-1]] == p.objectness.max()


def test_a_one_stage_model_has_no_proposals():
    inference = Inference("demo-ssd", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-ssd has no region proposal network"):
        proposals_frame(inference)
