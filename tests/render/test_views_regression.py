"""Box regression view: hand-computed deltas, round trips through torchvision's BoxCoder on real
demo models, and the anchor behind a one-stage detection."""

import math

import numpy as np
import pytest
import torch

from detviewer.ops.boxes import box_iou_np
from detviewer.ops.regression import encode_deltas
from detviewer.core.types import AnchorSet, Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.render.model.views.regression import (
    RegressionViewState, anchor_regression, best_anchor_for, decode_all, regression_frame, regression_steps,
)
from detviewer.render.model.primitives import ViewError


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
    frame = regression_frame(hand_inference())
    np.testing.assert_allclose(frame.layer("delta_arrow").segments, [[30, 60, 40, 20]], atol=1e-4)
    assert frame.layer("delta_arrow").arrow_heads
    assert frame.layer("delta_text").texts == ("dx +0.25  dy -0.50  dw +0.69  dh +0.00",)
    rows = dict(frame.table)
    assert rows["(dx, dy, dw, dh)"] == "(+0.250, -0.500, +0.693, +0.000) = output / weights"
    assert rows["x = xa + dx·wa"] == "30.0 + 0.250·40.0 = 40.0"
    assert rows["y = ya + dy·ha"] == "60.0 − 0.500·80.0 = 20.0"
    assert rows["w = wa·exp(dw)"] == "40.0·exp(+0.693) = 80.0"


def test_steps_reveal_anchor_then_deltas_then_decoded_box():
    inference = hand_inference()
    assert regression_steps(inference) == 3
    names = [regression_frame(inference, RegressionViewState(step=s)).names() for s in range(3)]
    assert "delta_arrow" not in names[0] and "decoded" not in names[0]
    assert "delta_arrow" in names[1] and "decoded" not in names[1]
    assert "decoded" in names[2]


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
        np.testing.assert_allclose(encode_deltas(r.anchor[None], r.decoded[None], r.weights)[0], r.raw_deltas,
                                   atol=2e-3)
        # the lecture's formulas give the same box as BoxCoder
        wa, ha = r.anchor[2] - r.anchor[0], r.anchor[3] - r.anchor[1]
        xa, ya = r.anchor[0] + wa / 2, r.anchor[1] + ha / 2
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
    assert "detection 0" in frame.layer("target").labels[0]


def test_rpn_proposal_is_an_anchor_decoded_and_clipped(demo):
    inference = demo["demo-frcnn"]
    proposal = inference.proposals.xyxy[0]
    clipped = _clipped(decode_all(inference), inference.image_size)
    assert box_iou_np(proposal[None], clipped).max() > 0.999
    frame = regression_frame(inference, RegressionViewState(proposal=0))
    assert dict(frame.table)["Chosen"].startswith("proposal 0: objectness")
    np.testing.assert_allclose(frame.layer("target").xyxy[0], proposal)


def test_models_without_anchor_deltas_are_refused():
    yolo = Inference("demo-yolo", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-yolo gives no per-anchor box deltas"):
        regression_frame(yolo)
    with pytest.raises(ViewError, match="anchor 5 does not exist"):
        regression_frame(hand_inference(), RegressionViewState(anchor=5))
