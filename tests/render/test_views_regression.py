"""Box regression view: hand-computed deltas, round trips through torchvision's BoxCoder on real
demo models, the anchor / proposal behind a detection, and the classic slide's targets t* from hand-placed
boxes through the model's own BoxCoder."""

import math

import numpy as np
import pytest
import torch

from detviewer.core.types import AnchorSet, Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.ops.boxes import box_iou_np
from detviewer.ops.regression import decode_deltas, encode_deltas, regression_targets, textbook_boxes
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.box_regression import (
    anchor_regression,
    best_anchor_for,
    decode_all,
    proposal_for_detection,
    proposal_regression,
    regression_target,
)
from detviewer.render.model.views.regression import RegressionViewState, regression_frame, regression_steps


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 80, size=(480, 640, 3), dtype=np.uint8)
    image[100:220, 150:330] = (230, 40, 40)
    return image


def hand_inference() -> Inference:
    # one anchor [10, 20, 50, 100]: centre (30, 60), 40×80. SSD-style weights (10, 10, 5, 5):
    # the head outputs (2.5, −5, 5·ln 2, 0) = lecture deltas (0.25, −0.5, ln 2, 0)
    # -> centre (30 + 0.25·40, 60 − 0.5·80) = (40, 20), size (80, 80) -> [0, −20, 80, 60].
    level = AnchorSet(level=0, boxes=[[10, 20, 50, 100]], feature_size=(1, 1), stride=(100.0, 100.0),
                      anchors_per_location=1, objectness=[0.8], deltas=[[2.5, -5.0, 5 * math.log(2), 0.0]],
                      delta_weights=(10.0, 10.0, 5.0, 5.0))
    return Inference("hand", (100, 100), Detections.empty(), Detections.empty(), anchors=(level,))


def test_hand_computed_deltas_and_decoded_box():
    r = anchor_regression(hand_inference(), 0)
    np.testing.assert_allclose(r.deltas, [0.25, -0.5, math.log(2), 0.0], rtol=1e-6)
    np.testing.assert_allclose(r.decoded, [0, -20, 80, 60], atol=1e-4)
    frame = regression_frame(hand_inference(), RegressionViewState(step=1))
    np.testing.assert_allclose(frame.layer("delta_arrow").segments, [[30, 60, 40, 20]], atol=1e-4)
    assert frame.layer("delta_arrow").arrow_heads
    assert frame.layer("delta_text").texts == ("t (0.25, −0.5, 0.69, 0)",)
    rows = dict(frame.table)
    assert rows["t = output ÷ weights (tx, ty, tw, th)"] == "(0.25, −0.5, 0.69, 0)"
    assert rows["Head"] == "the head, BoxCoder weights (10, 10, 5, 5)"
    assert rows["x = xₐ + tx·wₐ"] == "30.0 + 0.250·40.0 = 40.0"
    assert rows["y = yₐ + ty·hₐ"] == "60.0 − 0.500·80.0 = 20.0"
    assert rows["w = wₐ·exp(tw)"] == "40.0·exp(+0.693) = 80.0"


def test_steps_reveal_reference_then_deltas_then_decoded_box_then_target_then_textbook():
    inference = hand_inference()
    assert regression_steps(inference) == 5
    names = [regression_frame(inference, RegressionViewState(step=s)).names() for s in range(5)]
    assert "delta_arrow" not in names[0] and "decoded" not in names[0]
    assert "delta_arrow" in names[1] and "decoded" not in names[1]
    assert "decoded" in names[2]
    assert "target_arrow" not in names[3]  # no ground truth: no target, the caption says why
    assert names[4] == ["textbook_boxes"]
    frame = regression_frame(inference, RegressionViewState(step=3))
    assert frame.caption == "The target t* needs the object's box: load ground truth for this image."


@pytest.fixture(scope="module")
def demo(image):
    """name -> Inference of the untrained demo-frcnn and demo-ssd on the test image."""
    out = {}
    for name in ("demo-frcnn", "demo-ssd"):
        torch.manual_seed(0)
        out[name] = load_detector(name, weights="none", device="cpu").infer(image)
    return out


def _clipped(boxes: np.ndarray, image_size) -> np.ndarray:
    h, w = image_size
    return np.stack([boxes[:, 0].clip(0, w), boxes[:, 1].clip(0, h), boxes[:, 2].clip(0, w), boxes[:, 3].clip(0, h)], 1)


@pytest.mark.parametrize("name", ["demo-frcnn", "demo-ssd"])
def test_deltas_round_trip_through_boxcoder(name, demo):
    inference = demo[name]
    rng = np.random.default_rng(1)
    for flat in rng.choice(inference.anchor_count, 20, replace=False):
        r = anchor_regression(inference, int(flat))
        np.testing.assert_allclose(encode_deltas(r.box[None], r.decoded[None], r.weights)[0], r.raw_deltas,
                                   atol=2e-3)
        # the lecture's formulas give the same box as BoxCoder
        wa, ha = r.box[2] - r.box[0], r.box[3] - r.box[1]
        xa, ya = r.box[0] + wa / 2, r.box[1] + ha / 2
        dx, dy, dw, dh = r.deltas
        x, y, w, h = xa + dx * wa, ya + dy * ha, wa * math.exp(dw), ha * math.exp(dh)
        np.testing.assert_allclose(r.decoded, [x - w / 2, y - h / 2, x + w / 2, y + h / 2], atol=1e-2)
    assert tuple(inference.anchors[0].delta_weights) == ((1.0,) * 4 if name == "demo-frcnn" else (10.0, 10.0, 5.0, 5.0))


def test_one_stage_detection_comes_from_its_anchor(demo):
    # SSD's detections are decoded default boxes clipped to the image: one decoded anchor matches exactly.
    inference = demo["demo-ssd"]
    assert len(inference.detections) > 0
    decoded = decode_all(inference)
    det = inference.detections.xyxy[0]
    assert box_iou_np(det[None], _clipped(decoded, inference.image_size)).max() > 0.999
    flat, iou = best_anchor_for(inference, det)
    assert iou == pytest.approx(box_iou_np(det[None], decoded[flat][None])[0, 0])
    frame = regression_frame(inference, RegressionViewState(detection=0))
    assert frame.layer("anchor").index.tolist() == [flat]
    assert dict(frame.table)["Picked"].startswith("detection 1: ")


def test_two_stage_detection_comes_from_its_proposal_through_the_box_head(demo):
    """demo-frcnn's detections are proposals decoded with the box head's deltas for their class (weights
    (10, 10, 5, 5)) and clipped: the captured per-proposal deltas reproduce each detection."""
    inference = demo["demo-frcnn"]
    p = inference.proposals
    assert p.class_deltas.shape == (len(p), 7, 4) and p.class_scores.shape == (len(p), 7)
    assert len(inference.detections) > 0
    for d in range(min(5, len(inference.detections))):
        j, iou = proposal_for_detection(inference, d)
        assert iou > 0.999
        r = proposal_regression(inference, j, int(inference.detections.labels[d]))
        np.testing.assert_allclose(r.weights, [10, 10, 5, 5])
        np.testing.assert_allclose(_clipped(r.decoded[None], inference.image_size)[0], inference.detections.xyxy[d],
                                   atol=0.05)
    frame = regression_frame(inference, RegressionViewState(detection=0, step=0))
    assert frame.layer("anchor").index.tolist() == [proposal_for_detection(inference, 0)[0]]
    anchor_stage = regression_frame(inference, RegressionViewState(detection=0, stage="anchor", step=0))
    # the anchor behind the proposal: its RPN decoding (weights 1, 1, 1, 1) is that proposal
    proposal = p.xyxy[proposal_for_detection(inference, 0)[0]]
    flat = anchor_stage.layer("anchor").index[0]
    assert box_iou_np(proposal[None], _clipped(decode_all(inference)[flat][None], inference.image_size))[0, 0] > 0.999


def test_textbook_targets_through_the_models_own_boxcoder(demo):
    """The classic slide: a proposal exactly on the object gives t* = (0, 0, 0, 0), one a quarter of its
    width to the left (0.25, 0, 0, 0), one 1.5 times too wide tw* = log(1/1.5), through the box head's
    BoxCoder read from demo-frcnn, whose weights (10, 10, 5, 5) scale the encoded values."""
    from detviewer.render.model.views.training_labels import model_rule

    inference = demo["demo-frcnn"]
    weights = model_rule(inference, "box_head").box_weights
    assert weights == (10.0, 10.0, 5.0, 5.0)
    gt = np.array([100.0, 50.0, 180.0, 130.0], np.float32)  # an 80×80 object
    boxes = textbook_boxes(gt)
    np.testing.assert_allclose(boxes, [[100, 50, 180, 130], [80, 50, 160, 130], [80, 50, 200, 130]])
    targets = regression_targets(boxes, np.tile(gt, (3, 1)), weights)
    np.testing.assert_allclose(targets, [[0, 0, 0, 0], [0.25, 0, 0, 0], [0, 0, math.log(1 / 1.5), 0]], atol=1e-6)
    np.testing.assert_allclose(encode_deltas(boxes, np.tile(gt, (3, 1)), weights),
                               [[0, 0, 0, 0], [2.5, 0, 0, 0], [0, 0, 5 * math.log(1 / 1.5), 0]], atol=1e-5)
    frame = regression_frame(inference, RegressionViewState(step=4), gt=(gt[None], np.array([1])))
    rows = dict(frame.table)
    assert rows["on the object"] == "t* (0, 0, 0, 0) · encoded (0, 0, 0, 0)"
    assert rows["25 % of its width to the left"] == "t* (0.25, 0, 0, 0) · encoded (2.5, 0, 0, 0)"
    assert rows["too wide (1.5×)"] == "t* (0, 0, −0.41, 0) · encoded (0, 0, −2.03, 0)"
    assert frame.layer("textbook_boxes").labels[1] == "t* (0.25, 0, 0, 0)"


def test_target_of_a_hand_placed_proposal_and_the_residual(demo):
    """The matched object's t* through the model's BoxCoder, and t* − t with the head's own t."""
    inference = demo["demo-frcnn"]
    r = proposal_regression(inference, 0, 1)
    gt = decode_deltas(r.box[None], np.array([[2.5, 0.0, 0.0, 0.0]], np.float32), (10, 10, 5, 5))  # 0.25 w right
    target = regression_target(inference, r, gt)
    np.testing.assert_allclose(target.t_star, [0.25, 0, 0, 0], atol=1e-5)
    np.testing.assert_allclose(target.encoded, [2.5, 0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(target.residual, target.t_star - r.deltas, atol=1e-6)
    iou = 0.75 / 1.25  # two boxes of one size, shifted by a quarter of their width
    assert target.iou == pytest.approx(iou, abs=1e-4) and target.positive  # 0.6 >= the box head's 0.5


def test_models_without_anchor_deltas_are_refused():
    yolo = Inference("demo-yolo", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-yolo gives no per-anchor box deltas"):
        regression_frame(yolo)
    with pytest.raises(ViewError, match="anchor 5 does not exist"):
        regression_frame(hand_inference(), RegressionViewState(anchor=5))
    with pytest.raises(ViewError, match="no box head"):
        regression_frame(hand_inference(), RegressionViewState(stage="proposal"))
