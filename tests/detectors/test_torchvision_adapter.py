"""The torchvision adapter against the models' own modules and hand-computed anchor tables."""

import math

import numpy as np
import pytest
import torch
import torchvision

from detviewer.detectors.registry import load_detector
from detviewer.detectors.torchvision_adapter import TorchvisionDetector
from detviewer.errors import DetectorError
from detviewer.ops.anchors import run_generator


@pytest.fixture(scope="module")
def frcnn(textured_image):
    torch.manual_seed(0)
    detector = load_detector("fasterrcnn_mobilenet_v3_large_320_fpn", weights="none", device="cpu")
    detector.model.roi_heads.score_thresh = 0.0  # an untrained head scores low: keep candidates
    # Untrained heads give (nearly) tied scores; spread them so that rankings mean something.
    rpn, roi = detector.model.rpn.head, detector.model.roi_heads
    for layer in (rpn.cls_logits, rpn.bbox_pred, roi.box_head.fc6, roi.box_head.fc7,
                  roi.box_predictor.cls_score, roi.box_predictor.bbox_pred):
        torch.nn.init.normal_(layer.weight, std=0.05)
        torch.nn.init.uniform_(layer.bias, -0.5, 0.5)
    return detector, detector.infer(textured_image)


@pytest.fixture(scope="module")
def ssd300(textured_image):
    torch.manual_seed(0)
    detector = load_detector("ssd300_vgg16", weights="none", device="cpu")
    return detector, detector.infer(textured_image)


def _replay(inference):
    c = inference.candidates
    keep = torchvision.ops.batched_nms(torch.from_numpy(c.xyxy), torch.from_numpy(c.scores),
                                       torch.from_numpy(c.labels), inference.nms.iou_threshold)
    return keep[: inference.nms.max_detections].numpy()


@pytest.mark.parametrize("fixture", ["frcnn", "ssd300"])
def test_replaying_the_final_nms_on_candidates_reproduces_the_models_detections(fixture, request):
    _, inference = request.getfixturevalue(fixture)
    assert len(inference.candidates) > len(inference.detections) > 0
    keep = _replay(inference)
    np.testing.assert_allclose(inference.candidates.xyxy[keep], inference.detections.xyxy, atol=1e-3)
    np.testing.assert_array_equal(inference.candidates.labels[keep], inference.detections.labels)
    np.testing.assert_allclose(inference.candidates.scores[keep], inference.detections.scores)


def test_ssd300_default_boxes_per_scale_match_the_paper_table(ssd300):
    _, inference = ssd300
    counts = [len(a) for a in inference.anchors]
    assert counts == [5776, 2166, 600, 150, 36, 4]
    assert inference.anchor_count == 8732
    assert [a.feature_size for a in inference.anchors] == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert [a.anchors_per_location for a in inference.anchors] == [4, 6, 6, 6, 4, 4]
    # s_k from torchvision's generator for SSD300: 0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05
    assert inference.anchors[1].scales == pytest.approx((0.15, 0.33))


def test_ssd300_first_default_box_is_where_the_formula_puts_it(ssd300):
    _, inference = ssd300
    # torchvision's SSD300 uses steps [8, 16, ...]: cell (0, 0) is centred at 0.5 * 8 / 300 of the
    # image and its first box has side s_1 = 0.07 (clipping applies to the centre/size, not the corners).
    h, w = inference.image_size
    box = inference.anchors[0].at_cell(0, 0)[0]
    cx, cy = 4 / 300 * w, 4 / 300 * h
    expected = [cx - 0.035 * w, cy - 0.035 * h, cx + 0.035 * w, cy + 0.035 * h]
    np.testing.assert_allclose(box, expected, rtol=1e-4, atol=1e-3)


def test_rpn_anchors_at_cell_zero_match_hand_computed_base_anchors(frcnn):
    _, inference = frcnn
    level = inference.anchors[0]
    assert level.anchors_per_location == 15
    sy, sx = inference.scale
    anchors_in_input_px = level.at_cell(0, 0) * np.array([sx, sy, sx, sy], np.float32)
    # size 32: ratio 0.5 (h/w) -> w = 32/sqrt(.5) = 45.25, h = 22.63, rounded half-extents 23 and 11
    # ratio 1 -> 16, 16; ratio 2 -> w = 22.63, h = 45.25 -> 11, 23 (torchvision rounds the base anchors)
    expected = np.array([[-23, -11, 23, 11], [-16, -16, 16, 16], [-11, -23, 11, 23]], np.float32)
    np.testing.assert_allclose(anchors_in_input_px[[0, 5, 10]], expected, atol=1e-3)
    # the next cell is one stride further right
    np.testing.assert_allclose(level.at_cell(0, 1)[5] - level.at_cell(0, 0)[5],
                               np.array([32, 0, 32, 0]) / np.array([sx, sy, sx, sy]), rtol=1e-4)


def test_anchor_counts_equal_the_generators_own_output(frcnn):
    detector, inference = frcnn
    generated = run_generator(detector.model.rpn.anchor_generator, inference.input_size,
                              [a.feature_size for a in inference.anchors])
    assert [len(a) for a in generated] == [len(a) for a in inference.anchors]
    assert inference.anchor_count == 4725  # NOTES-torchvision: 320 px MobileNet FPN on 640x480


def test_proposals_are_the_rpns_post_nms_output_with_objectness(frcnn):
    detector, inference = frcnn
    proposals = inference.proposals
    assert 0 < len(proposals) <= detector.model.rpn.post_nms_top_n()
    assert len(proposals.pre_nms_xyxy) >= len(proposals)
    assert np.all(np.diff(proposals.objectness) <= 1e-6)
    assert np.all((proposals.objectness >= 0) & (proposals.objectness <= 1))
    h, w = inference.image_size
    assert proposals.xyxy[:, [0, 2]].max() <= w + 1e-3 and proposals.xyxy[:, [1, 3]].max() <= h + 1e-3


def test_inference_reports_sizes_stages_and_class_names(frcnn, textured_image):
    detector, inference = frcnn
    assert inference.image_size == textured_image.shape[:2]
    assert inference.input_size == (320, 426)
    assert inference.scale == pytest.approx((320 / 480, 426 / 640))
    assert {"preprocess", "backbone", "rpn", "roi_heads", "postprocess", "total"} <= set(inference.timings)
    assert inference.detections.class_names[1] == "person"  # COCO metadata, no download
    assert inference.device == "cpu"
    assert detector.capabilities == {"anchors", "proposals"}


def test_infer_rejects_a_non_rgb_array_with_a_sentence(frcnn):
    detector, _ = frcnn
    with pytest.raises(DetectorError, match="RGB uint8"):
        detector.infer(np.zeros((10, 10), np.uint8))


def test_wrapping_something_that_is_not_a_detector_is_refused():
    with pytest.raises(DetectorError, match="not a torchvision detection model"):
        TorchvisionDetector(torch.nn.Linear(2, 2), name="x", class_names=[])


def test_nms_recording_does_not_affect_other_callers():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    keep = torchvision.ops.boxes.batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.zeros(3, dtype=torch.int64), 0.5)
    assert keep.tolist() == [0, 2]


def test_retinanet_generator_gives_the_documented_count_and_sizes():
    # NOTES-torchvision: 640x480 -> 800x1066 input (padded 800x1088): 163,206 and 18,134.
    grids = [(100, 136), (50, 68), (25, 34), (13, 17), (7, 9)]
    retina = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None)
    sets = run_generator(retina.anchor_generator, (800, 1088), grids)
    assert sum(len(s) for s in sets) == 163206
    assert sets[0].sizes == (32, 40, 50)  # int(32 * 2 ** (k / 3)), k = 0, 1, 2
    assert sets[0].stride == (8.0, 8.0)
    assert math.isclose(sets[3].stride[0], 800 // 13)


@pytest.mark.parametrize("fixture", ["frcnn", "ssd300"])
def test_nms_trace_with_the_models_own_params_reproduces_its_detections(fixture, request):
    from detviewer.ops.nms import nms_trace

    _, inference = request.getfixturevalue(fixture)
    c, params = inference.candidates, inference.nms
    trace = nms_trace(c.xyxy, c.scores, c.labels, iou_threshold=params.iou_threshold,
                      class_agnostic=params.class_agnostic, max_detections=params.max_detections)
    np.testing.assert_allclose(c.xyxy[trace.keep], inference.detections.xyxy, atol=1e-3)
    np.testing.assert_array_equal(c.labels[trace.keep], inference.detections.labels)


def test_pool_region_uses_the_box_heads_own_pooler_and_level(frcnn, textured_image):
    detector, inference = frcnn
    box = inference.proposals.xyxy[0]
    pooled = detector.pool_region(box, inference)
    size = detector.model.roi_heads.box_roi_pool.output_size
    assert pooled.align.shape[1:] == size and pooled.align_heatmap.shape == size
    assert pooled.bins_input.shape == size + (4,)
    # the bins tile the box (in model-input pixels)
    sy, sx = inference.scale
    box_input = box * np.array([sx, sy, sx, sy], np.float32)
    np.testing.assert_allclose(pooled.bins_input[0, 0, :2], box_input[:2], rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(pooled.bins_input[-1, -1, 2:], box_input[2:], rtol=1e-4, atol=1e-2)
    # the same numbers the box head gets: the pooler run on the backbone's features
    model = detector.model
    with torch.inference_mode():
        images, _ = model.transform([torch.from_numpy(textured_image).permute(2, 0, 1).float() / 255])
        features = model.backbone(images.tensors)
        reference = model.roi_heads.box_roi_pool(features, [torch.from_numpy(box_input[None])], images.image_sizes)
    np.testing.assert_allclose(pooled.align, reference[0].numpy(), rtol=1e-4, atol=1e-5)
    assert pooled.box_feature == pytest.approx(box_input * pooled.spatial_scale, rel=1e-4)


def test_pool_region_pools_the_frame_of_the_inference_it_is_asked_about(frcnn, textured_image):
    detector, inference = frcnn
    box = inference.proposals.xyxy[0]
    expected = detector.pool_region(box, inference).align
    other = textured_image[::-1].copy()  # another frame: the detector now holds its features
    detector.infer(other)
    with pytest.raises(DetectorError, match="run the model on it again"):
        detector.pool_region(box, inference)
    again = detector.pool_region(box, inference, textured_image)  # runs the model on that frame again
    np.testing.assert_allclose(again.align, expected, rtol=1e-5, atol=1e-6)


def test_pool_region_on_a_one_stage_model_is_a_sentence(ssd300):
    detector, inference = ssd300
    with pytest.raises(DetectorError, match="one-stage detector"):
        detector.pool_region([0, 0, 10, 10], inference)


def _decoded_anchors(inference):
    from detviewer.ops.regression import decode_deltas

    anchors = np.concatenate([a.boxes for a in inference.anchors])
    deltas = np.concatenate([a.deltas for a in inference.anchors])
    scores = np.concatenate([a.objectness for a in inference.anchors])
    h, w = inference.image_size
    boxes = decode_deltas(anchors, deltas, inference.anchors[0].delta_weights)
    boxes = np.clip(boxes, 0, [w, h, w, h])
    return boxes, scores


def test_per_anchor_rpn_objectness_and_deltas_rebuild_the_top_proposal(frcnn):
    _, inference = frcnn
    boxes, scores = _decoded_anchors(inference)
    assert all(a.objectness is not None and a.deltas.shape == (len(a), 4) for a in inference.anchors)
    proposals = inference.proposals
    assert scores.max() == pytest.approx(proposals.pre_nms_objectness.max(), rel=1e-6)
    # every top proposal is some anchor, decoded with its own deltas, scored with its own objectness
    for i in np.argsort(-proposals.pre_nms_objectness)[:20]:
        same = np.abs(boxes - proposals.pre_nms_xyxy[i]).max(axis=1) < 0.05
        assert same.any()
        assert np.isclose(scores[same], proposals.pre_nms_objectness[i], rtol=1e-5).any()


def test_ssd_default_box_deltas_decode_to_its_detections(ssd300):
    _, inference = ssd300
    boxes, _ = _decoded_anchors(inference)
    assert inference.anchors[0].delta_weights == (10.0, 10.0, 5.0, 5.0)
    from torchvision.ops import box_iou

    iou = box_iou(torch.from_numpy(inference.detections.xyxy[:5]), torch.from_numpy(boxes))
    assert torch.all(iou.max(dim=1).values > 0.999)


@pytest.mark.parametrize("name", ["fcos_resnet50_fpn", "retinanet_resnet50_fpn"])
def test_one_stage_resnet_models_report_anchors_scores_and_replayable_candidates(name, textured_image):
    torch.manual_seed(0)
    detector = load_detector(name, weights="none", device="cpu")
    detector.model.transform.min_size, detector.model.transform.max_size = (240,), 320  # keep the test fast
    detector.model.score_thresh = 0.0
    inference = detector.infer(textured_image)
    assert inference.input_size == (240, 320) and len(inference.anchors) == 5
    assert all(a.objectness is not None and len(a.objectness) == len(a) for a in inference.anchors)
    if name.startswith("fcos"):
        assert all(a.deltas is None and a.anchors_per_location == 1 for a in inference.anchors)
    else:
        assert all(a.deltas.shape == (len(a), 4) and a.anchors_per_location == 9 for a in inference.anchors)
    keep = _replay(inference)
    assert len(keep) == len(inference.detections)
    np.testing.assert_allclose(inference.candidates.xyxy[keep], inference.detections.xyxy, atol=1e-3)


def test_anchors_are_built_when_first_asked_for_after_the_detector_is_gone(textured_image):
    """infer keeps what the anchors need and builds them on first use, without the model (after a later frame,
    a closed detector): the same levels as built at once, each the generator's own count."""
    import pickle

    from detviewer.core.types import DeferredAnchors

    torch.manual_seed(0)
    detector = load_detector("retinanet_resnet50_fpn", weights="none", device="cpu")
    detector.model.transform.min_size, detector.model.transform.max_size = (240,), 320
    deferred = detector.infer(textured_image)
    at_once = tuple(detector.infer(textured_image).anchors)  # built while the model is there
    generator_total = len(detector.model.anchor_generator(
        *_image_list_and_features(detector, textured_image))[0])
    detector.infer(textured_image[::-1].copy())
    detector.close()
    assert isinstance(deferred.anchors, DeferredAnchors) and len(deferred.anchors) == 5
    assert sum(len(a) for a in deferred.anchors) == generator_total
    for built, expected in zip(deferred.anchors, at_once):
        assert built.name == expected.name and built.feature_size == expected.feature_size
        np.testing.assert_array_equal(built.boxes, expected.boxes)
        np.testing.assert_allclose(built.objectness, expected.objectness, rtol=1e-5)
        np.testing.assert_allclose(built.deltas, expected.deltas, rtol=1e-5, atol=1e-6)
    copy = pickle.loads(pickle.dumps(deferred.anchors))
    assert isinstance(copy, tuple) and len(copy) == 5 and np.array_equal(copy[2].boxes, deferred.anchors[2].boxes)


def _image_list_and_features(detector, image):
    """(ImageList, feature maps) of the model's own transform and backbone for ``image``."""
    model = detector.model
    with torch.inference_mode():
        tensor = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
        images, _ = model.transform([tensor])
        features = list(model.backbone(images.tensors).values())
    return images, features
