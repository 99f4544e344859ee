"""YOLOv1 grid decoding, candidate selection and the detector adapter on hand-made tensors."""

import math

import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms

from detviewer.core.types import NMSParams
from detviewer.detectors.yolo_v1 import YoloV1, YoloV1Detector, decode_grid, select_candidates


def _logit(p):
    return math.log(p / (1 - p))


def _hand_made_raw():
    # S=2, B=1, C=2 -> 7 values per cell; every cell "off" (confidence ~ 0) except two
    raw = torch.full((2, 2, 7), -20.0)
    # cell (row 1, col 0): x offset 0.5, y offset 0.25, sqrt(w/W) 0.5, sqrt(h/H) 0.75, conf 0.8,
    # class probabilities (0.25, 0.75)
    raw[1, 0] = torch.tensor([0.0, _logit(0.25), 0.0, _logit(0.75), _logit(0.8), 0.0, math.log(3)])
    # cell (row 0, col 1): centre x (1 + 0.9) / 2 * 64 = 60.8, 16 px wide -> runs past the right edge
    raw[0, 1] = torch.tensor([_logit(0.9), 0.0, 0.0, 0.0, _logit(0.5), math.log(4), 0.0])
    return raw


def test_decode_grid_matches_hand_computation():
    boxes, conf, probs = decode_grid(_hand_made_raw(), 1, (64, 64))
    assert boxes.shape == (2, 2, 1, 4) and conf.shape == (2, 2, 1) and probs.shape == (2, 2, 2)
    # centre ((0 + 0.5) / 2 * 64, (1 + 0.25) / 2 * 64) = (16, 40); size (0.25 * 64, 0.5625 * 64) = (16, 36)
    assert boxes[1, 0, 0].tolist() == pytest.approx([8.0, 22.0, 24.0, 58.0], abs=1e-4)
    assert conf[1, 0, 0].item() == pytest.approx(0.8)
    assert probs[1, 0].tolist() == pytest.approx([0.25, 0.75])
    # x1 = 60.8 + 8 = 68.8 is clipped to the 64 px input; y: centre 16, 16 px high
    assert boxes[0, 1, 0].tolist() == pytest.approx([52.8, 8.0, 64.0, 24.0], abs=1e-4)
    assert probs[0, 1].tolist() == pytest.approx([0.8, 0.2])


def test_decode_grid_batched_and_non_square_input():
    raw = _hand_made_raw()
    boxes, _, _ = decode_grid(torch.stack([raw, raw]), 1, (128, 64))
    assert boxes.shape == (2, 2, 2, 1, 4)
    # y doubles with a 128 px high input: centre 80, height 72
    assert boxes[1, 1, 0, 0].tolist() == pytest.approx([8.0, 44.0, 24.0, 116.0], abs=1e-4)


def test_select_candidates_scores_and_labels():
    boxes, conf, probs = decode_grid(_hand_made_raw(), 1, (64, 64))
    cand, scores, labels = select_candidates(boxes, conf, probs, 0.05)
    # one score per class (YOLOv1's class-specific confidence), in cell order:
    # cell (0, 1): 0.5 * (0.8, 0.2) = (0.4, 0.1); cell (1, 0): 0.8 * (0.25, 0.75) = (0.2, 0.6)
    assert scores.tolist() == pytest.approx([0.4, 0.1, 0.2, 0.6])
    assert labels.tolist() == [1, 2, 1, 2]
    assert cand.shape == (4, 4)
    assert cand[0].tolist() == cand[1].tolist() == boxes[0, 1, 0].tolist()  # the same box for both classes
    assert cand[3].tolist() == boxes[1, 0, 0].tolist()
    _, high, high_labels = select_candidates(boxes, conf, probs, 0.3)
    assert high.tolist() == pytest.approx([0.4, 0.6]) and high_labels.tolist() == [1, 2]


def test_detector_inference_replays_with_batched_nms():
    torch.manual_seed(0)
    model = YoloV1(num_classes=6)
    with torch.no_grad():  # make a random model confident so NMS has work to do
        model.head.bias[4::5][:2] += 3.0
    det = YoloV1Detector(model, class_names=("__background__",) + tuple("abcdef"),
                         nms=NMSParams(iou_threshold=0.3, score_threshold=0.05, max_detections=100))
    image = np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    inf = det.infer(image)
    assert inf.image_size == (300, 200) and inf.input_size == (224, 224)
    assert inf.scale == pytest.approx((224 / 300, 224 / 200))
    assert inf.grid.boxes.shape == (7, 7, 2, 4) and inf.grid.raw.shape == (7, 7, 16)
    assert inf.grid.cell_size == pytest.approx((300 / 7, 200 / 7))
    c = inf.candidates
    assert len(c) > 0 and (c.scores > 0.05).all()
    keep = batched_nms(torch.from_numpy(c.xyxy), torch.from_numpy(c.scores), torch.from_numpy(c.labels), 0.3)[:100]
    assert np.array_equal(inf.detections.xyxy, c.xyxy[keep.numpy()])
    assert np.array_equal(inf.detections.labels, c.labels[keep.numpy()])
    # candidates are in original-image pixels: inside the 200 x 300 frame
    assert c.xyxy[:, [0, 2]].max() <= 200 + 1e-3 and c.xyxy[:, [1, 3]].max() <= 300 + 1e-3
    assert set(inf.timings) == {"preprocess", "model", "postprocess"}


def test_nms_trace_replays_the_detections():
    nms_mod = pytest.importorskip("detviewer.ops.nms")
    torch.manual_seed(1)
    model = YoloV1(num_classes=6)
    with torch.no_grad():
        model.head.bias[4::5][:2] += 3.0
    det = YoloV1Detector(model, class_names=("__background__",) + tuple("abcdef"))
    inf = det.infer(np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    c, p = inf.candidates, inf.nms
    trace = nms_mod.nms_trace(c.xyxy, c.scores, c.labels, iou_threshold=p.iou_threshold,
                              score_threshold=p.score_threshold, class_agnostic=p.class_agnostic,
                              max_detections=p.max_detections)
    assert len(inf.detections) > 0
    assert np.array_equal(c.xyxy[trace.keep], inf.detections.xyxy)
    assert np.array_equal(c.labels[trace.keep], inf.detections.labels)
