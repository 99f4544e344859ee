"""Anchors view: per-level tables against the models' own generators and hand-computed counts, a
click at a known pixel, RPN labelling on a hand-made case, and the 217k-anchor build."""

import functools
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from torchvision.models.detection import faster_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator

from detviewer.core.types import Detections, Inference
from detviewer.detectors.registry import load_detector
from detviewer.ops.anchors import cell_at, run_generator
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.anchors import (
    AnchorViewState,
    anchor_table,
    anchors_at_point,
    anchors_frame,
    anchors_steps,
    level_sentence,
)
from detviewer.render.model.views.training_labels import label_anchors, rule_sentence


def inference_from_generator(generator, padded, grids, input_size, image_size, name="hand", objectness=None,
                             rules=()):
    """An Inference whose anchors are the generator's own output, resized to original pixels."""
    sets = run_generator(generator, padded, grids)
    sy, sx = input_size[0] / image_size[0], input_size[1] / image_size[1]
    factor = np.array([sx, sy, sx, sy], np.float32)
    out = []
    for s in sets:
        obj = None if objectness is None else objectness(len(s))
        out.append(replace(s, boxes=s.boxes / factor, objectness=obj))
    return Inference(model_name=name, image_size=image_size, detections=Detections.empty(),
                     candidates=Detections.empty(), anchors=tuple(out), input_size=input_size, scale=(sy, sx),
                     rules=tuple(rules))


@functools.cache
def torchvision_rules(family: str):
    """The MatchRules the adapter reads from an untrained torchvision model of ``family``."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn, retinanet_resnet50_fpn, ssd300_vgg16

    from detviewer.detectors.torchvision_adapter import match_rules

    build = {"rcnn": fasterrcnn_mobilenet_v3_large_320_fpn, "ssd": ssd300_vgg16, "retinanet": retinanet_resnet50_fpn}
    return match_rules(build[family](weights=None, weights_backbone=None), family)


@pytest.fixture(scope="module")
def textured_image():
    """480×640 RGB: noise with two bright rectangles."""
    image = np.random.default_rng(0).integers(0, 80, size=(480, 640, 3), dtype=np.uint8)
    image[100:220, 150:330] = (230, 40, 40)
    image[260:420, 380:560] = (40, 200, 60)
    return image


@pytest.fixture(scope="module")
def demo_frcnn():
    torch.manual_seed(0)
    return load_detector("demo-frcnn", weights="none", device="cpu")


@pytest.fixture(scope="module")
def demo_inference(demo_frcnn, textured_image):
    return demo_frcnn.infer(textured_image)


@pytest.fixture(scope="module")
def frcnn_r50_640x480():
    """fasterrcnn_resnet50_fpn's own anchor generator on a 640×480 image (input 800×1066, padded 800×1088)."""
    rng = np.random.default_rng(0)
    grids = [(200, 272), (100, 136), (50, 68), (25, 34), (13, 17)]
    return inference_from_generator(faster_rcnn._default_anchorgen(), (800, 1088), grids, (800, 1066), (480, 640),
                                    "fasterrcnn_resnet50_fpn",
                                    objectness=lambda n: rng.random(n, dtype=np.float32),
                                    rules=torchvision_rules("rcnn")[:1])


def test_demo_frcnn_table_matches_hand_counts_and_its_own_generator(demo_frcnn, demo_inference):
    # 480×640 -> 192×256 input (scale 0.4); FPN strides 4, 8, 16 and the pool level at 32.
    rows = anchor_table(demo_inference)
    assert [r.feature_size for r in rows] == [(48, 64), (24, 32), (12, 16), (6, 8)]
    np.testing.assert_allclose([r.stride for r in rows], [(4, 4), (8, 8), (16, 16), (32, 32)], atol=1e-3)
    assert [r.count for r in rows] == [48 * 64 * 3, 24 * 32 * 3, 12 * 16 * 3, 6 * 8 * 3]
    assert [r.sizes for r in rows] == [(16.0,), (32.0,), (64.0,), (128.0,)]
    assert sum(r.count for r in rows) == demo_inference.anchor_count == 12240
    own = run_generator(demo_frcnn.model.rpn.anchor_generator, (192, 256), [r.feature_size for r in rows])
    assert [len(s) for s in own] == [r.count for r in rows]
    frame = anchors_frame(demo_inference, AnchorViewState(color_by="level"))
    assert frame.table[-1] == ("Total", "12,240 anchors")
    assert "= 12,240 anchors" in frame.caption  # every anchor counted, a sample of cells drawn
    # 16 cells at most per level, every k = ceil(sqrt(h·w / 16)) cells: 48×64 k 14 -> 3×5; 24×32 k 7 -> 3×5;
    # 12×16 k 4 -> 3×4; 6×8 k 2 -> 3×4; 3 anchors each
    assert [len(layer) for layer in frame.layers] == [15 * 3, 15 * 3, 12 * 3, 12 * 3]


def test_demo_frcnn_on_a_wide_image_has_a_different_table(demo_frcnn):
    # 256×512 -> 128×256 input (scale 0.5): maps 32×64, 16×32, 8×16, 4×8.
    image = np.random.default_rng(1).integers(0, 255, (256, 512, 3), dtype=np.uint8)
    inference = demo_frcnn.infer(image)
    rows = anchor_table(inference)
    assert [r.feature_size for r in rows] == [(32, 64), (16, 32), (8, 16), (4, 8)]
    assert sum(r.count for r in rows) == inference.anchor_count == 3 * (2048 + 512 + 128 + 32)


def test_ssdlite_table_counts_equal_its_default_box_generator(textured_image):
    torch.manual_seed(0)
    inference = load_detector("ssdlite320_mobilenet_v3_large", weights="none", device="cpu").infer(textured_image)
    rows = anchor_table(inference)
    assert [r.count for r in rows] == [20 * 20 * 6, 10 * 10 * 6, 5 * 5 * 6, 3 * 3 * 6, 2 * 2 * 6, 6]
    assert inference.anchor_count == 3234
    frame = anchors_frame(inference, AnchorViewState(level=0))
    assert frame.caption.startswith("Scale 1 of 6: 20×20 cells, step 16, 6 boxes per cell")


def test_fasterrcnn_r50_fpn_640x480_table_and_caption(frcnn_r50_640x480):
    inference = frcnn_r50_640x480
    rows = anchor_table(inference)
    assert [r.count for r in rows] == [163200, 40800, 10200, 2550, 663]
    assert inference.anchor_count == 217413
    assert level_sentence(rows[2], 5) == ("Level 3 of 5: 50×68 cells, stride 16, 3 anchors per cell "
                                          "(sizes 128, ratios 0.5/1/2) — 10,200 anchors")
    assert anchors_steps(inference) == 6
    one = anchors_frame(inference, AnchorViewState(step=2, color_by="level"))
    assert one.names() == ["anchors_L2"] and len(one.layers[0]) == 10200
    assert one.step == 2 and one.step_count == 6
    every = anchors_frame(inference, AnchorViewState(step=5, color_by="level"))
    assert every.step_label == "All levels"
    assert "163,200 + 40,800 + 10,200 + 2,550 + 663 = 217,413" in every.caption


def test_217k_anchors_build_in_one_layer_per_level(frcnn_r50_640x480):
    inference = frcnn_r50_640x480
    start = time.perf_counter()
    frame = anchors_frame(inference, AnchorViewState(color_by="objectness", level=0))
    elapsed = time.perf_counter() - start
    print(f"\nanchors_frame, level 1's 163,200 anchors coloured by objectness: {elapsed * 1e3:.1f} ms")
    assert frame.names() == ["anchors_L0"]
    assert len(frame.layers[0]) == 163200  # one level: every anchor drawn
    # coloured by objectness: the most confident anchor is drawn last (on top) and is the brightest
    layer = frame.layers[0]
    best = int(np.argmax(inference.anchors[0].objectness))
    assert layer.index[-1] == best
    np.testing.assert_array_equal(layer.xyxy[-1], inference.anchors[0].boxes[best])
    assert layer.colors[-1].sum() > layer.colors[0].sum()
    # every level at once: one layer per level, the anchors of 16 evenly spread cells of each
    every = anchors_frame(inference, AnchorViewState(color_by="objectness"))
    assert every.names() == [f"anchors_L{i}" for i in range(5)]
    assert all(0 < len(layer) <= 16 * 3 for layer in every.layers)


def test_sampled_cells_spread_evenly_over_the_grid(demo_inference):
    from detviewer.render.model.views.anchors import sampled_cells

    level = demo_inference.anchors[0]  # 48×64 cells (480×640 at scale 0.4, stride 4), 3 anchors per cell
    h, w = level.feature_size
    index = sampled_cells(level, 16)
    cells = np.unique(index // 3)
    ys, xs = cells // w, cells % w
    # k = ceil(sqrt(48·64 / 16)) = 14: rows 7, 21, 35 and columns 7, 21, 35, 49, 63 -> 15 cells, 3 anchors each
    assert sorted(set(ys.tolist())) == [7, 21, 35] and sorted(set(xs.tolist())) == [7, 21, 35, 49, 63]
    assert len(index) == 15 * 3 and (h, w) == (48, 64)


def test_217k_anchors_with_ground_truth_labels(frcnn_r50_640x480):
    gt = (np.array([[100, 80, 300, 260], [400, 200, 600, 460]], np.float32), np.array([1, 2]))
    start = time.perf_counter()
    frame = anchors_frame(frcnn_r50_640x480, AnchorViewState(), gt=gt)
    print(f"\nanchors_frame with RPN labels, 217,413 anchors: {(time.perf_counter() - start) * 1e3:.1f} ms")
    labels = label_anchors(frcnn_r50_640x480, gt[0])
    # every level at once: every positive, the negatives and ignored of a sample of cells; the counts stay whole
    assert len(frame.layer("anchors_positive")) == int((labels.labels == 1).sum()) > 0
    shown = sum(len(frame.layer(n)) for n in ("anchors_negative", "anchors_ignored"))
    assert shown <= 5 * 16 * 3
    assert f"{int((labels.labels == 0).sum()):,} negative" in frame.caption
    one = anchors_frame(frcnn_r50_640x480, AnchorViewState(level=2), gt=gt)
    assert sum(len(one.layer(n)) for n in ("anchors_negative", "anchors_ignored", "anchors_positive")) == 10200


def test_a_click_at_a_known_pixel_selects_the_expected_cells(demo_inference):
    # (102.5, 87.5) original -> (41, 35) input at scale 0.4; nearest centres at index * stride:
    # stride 4: (35/4, 41/4) = (8.75, 10.25) -> (9, 10); stride 8 -> (4, 5); 16 -> (2, 3); 32 -> (1, 1).
    point = (102.5, 87.5)
    cells = anchors_at_point(demo_inference, point)
    assert [c.cell for c in cells] == [(9, 10), (4, 5), (2, 3), (1, 1)]
    for c in cells:
        level = demo_inference.anchors[c.level]
        assert c.cell == cell_at(point, level, demo_inference.scale)
        np.testing.assert_array_equal(c.boxes, level.at_cell(*c.cell))
        centres = (c.boxes[:, :2] + c.boxes[:, 2:]) / 2
        np.testing.assert_allclose(centres, np.tile(c.centre, (len(c.boxes), 1)), atol=1e-3)
    # the stride-16 cell (2, 3) is centred at input (48, 32) = original (120, 80)
    assert cells[2].centre == pytest.approx((120.0, 80.0), abs=1e-3)
    frame = anchors_frame(demo_inference, AnchorViewState(point=point, color_by="level"))
    assert len(frame.layer("point_anchors")) == 4 * 3
    assert len(frame.layer("point_cells")) == 4
    offsets = np.cumsum([0] + [len(a) for a in demo_inference.anchors])
    # flat index of the stride-16 cell's first anchor: level offset + (row * width + col) * 3
    assert cells[2].index[0] == offsets[2] + (2 * 16 + 3) * 3


def _hand_rpn_case():
    # 64×64 image, one 4×4 map (stride 16), sizes 16 and 32 at ratio 1: centres at 0, 16, 32, 48.
    # Flat index of (row, col, size) = (row * 4 + col) * 2 + (0 for 16, 1 for 32).
    generator = AnchorGenerator(sizes=((16, 32),), aspect_ratios=((1.0,),))
    inference = inference_from_generator(generator, (64, 64), [(4, 4)], (64, 64), (64, 64),
                                         rules=torchvision_rules("rcnn")[:1])
    # GT 1 [2, 30]²: the 32-px anchor at (1, 1) has IoU 784/1024 = 0.766 (positive), the 16-px one
    # 256/784 = 0.327 (ignored). GT 2 [36, 60]²: the 32-px anchor at (3, 3) has IoU 576/1024 = 0.5625,
    # below 0.7 but the best for GT 2 (positive); the 16-px one 256/576 = 0.444 (ignored).
    gt_boxes = np.array([[2, 2, 30, 30], [36, 36, 60, 60]], np.float32)
    return inference, gt_boxes


def test_rpn_labelling_on_a_hand_made_case():
    inference, gt_boxes = _hand_rpn_case()
    labels = label_anchors(inference, gt_boxes)
    assert (labels.rule.fg_iou, labels.rule.bg_iou, labels.rule.batch_size) == (0.7, 0.3, 256)
    expected = np.zeros(32, np.int8)
    expected[[11, 31]] = 1
    expected[[10, 30]] = -1
    np.testing.assert_array_equal(labels.labels, expected)
    assert labels.max_iou[[11, 10, 31, 30]] == pytest.approx([784 / 1024, 256 / 784, 576 / 1024, 256 / 576])
    assert labels.matched_gt[11] == 0 and labels.matched_gt[31] == 1
    # minibatch of 256: both positives, and every one of the 28 negatives (fewer than 254)
    np.testing.assert_array_equal(labels.sampled_positive, [11, 31])
    np.testing.assert_array_equal(labels.sampled_negative, np.flatnonzero(expected == 0))


def test_label_colouring_layers_follow_the_hand_made_labels():
    inference, gt_boxes = _hand_rpn_case()
    frame = anchors_frame(inference, AnchorViewState(), gt=(gt_boxes, np.array([1, 2])))
    assert sorted(frame.layer("anchors_positive").index.tolist()) == [11, 31]
    assert sorted(frame.layer("anchors_ignored").index.tolist()) == [10, 30]
    assert len(frame.layer("anchors_negative")) == 28
    assert len(frame.layer("ground_truth")) == 2
    assert "2 positive (green), 28 negative (blue), 2 ignored (grey)" in frame.caption
    assert ("The RPN's rule (Matcher 0.7 / 0.3): positive at IoU ≥ 0.7 or the best box of an object, "
            "negative below 0.3, ignored between; 256 per image, at most half positive.") in frame.caption
    assert [text for text, _ in frame.legend][:3] == ["positive (IoU ≥ 0.7 or best)", "negative (IoU < 0.3)",
                                                      "ignored (0.3 ≤ IoU < 0.7)"]
    batch = anchors_frame(inference, AnchorViewState(minibatch=True), gt=(gt_boxes, np.array([1, 2])))
    assert sorted(batch.layer("minibatch_positive").index.tolist()) == [11, 31]
    assert len(batch.layer("minibatch_negative")) == 28


def test_the_same_anchors_under_ssds_and_retinanets_own_rules():
    """SSD300's SSDMatcher: no ignored band (the 0.3-0.7 anchors become negative, GT 2's best stays positive,
    every box at IoU >= 0.5 too); RetinaNet's Matcher 0.5 / 0.4 with best-for-a-box matches."""
    inference, gt_boxes = _hand_rpn_case()
    ious = label_anchors(inference, gt_boxes).max_iou
    ssd = label_anchors(inference, gt_boxes, torchvision_rules("ssd")[0])
    # IoU >= 0.5: anchor 11 (0.766) and 31 (0.5625); nothing ignored
    np.testing.assert_array_equal(np.flatnonzero(ssd.labels == 1), [11, 31])
    assert not (ssd.labels == -1).any() and ssd.rule.neg_to_pos == 3.0
    retina = label_anchors(inference, gt_boxes, torchvision_rules("retinanet")[0])
    expected = np.where(ious >= 0.5, 1, np.where(ious < 0.4, 0, -1))
    expected[31] = 1
    np.testing.assert_array_equal(retina.labels, expected)
    np.testing.assert_array_equal(np.flatnonzero(retina.labels == -1), [30])  # 0.444 lies in [0.4, 0.5)
    assert rule_sentence(ssd.rule) == ("SSD's rule (SSDMatcher 0.5): positive at IoU ≥ 0.5 or each object's best "
                                       "box, every other box negative (no ignored band); hard negatives 3:1.")
    assert "no sampling" in rule_sentence(retina.rule) and "Matcher 0.5 / 0.4" in rule_sentence(retina.rule)
    frame = anchors_frame(inference, AnchorViewState(rule=ssd.rule), gt=(gt_boxes, np.array([1, 2])))
    assert "ignored" not in frame.caption.split("SSD's rule")[0] and "anchors_ignored" in frame.names()
    assert len(frame.layer("anchors_ignored")) == 0


def test_demo_models_carry_their_own_rules(demo_frcnn):
    from detviewer.detectors.demo import build_demo_model
    from detviewer.detectors.torchvision_adapter import match_rules

    rpn, head = demo_frcnn.rules
    assert (rpn.stage, rpn.fg_iou, rpn.bg_iou, rpn.low_quality, rpn.batch_size, rpn.positive_fraction) == (
        "rpn", 0.7, 0.3, True, 256, 0.5)
    # demo-frcnn's box head samples 128 per image (box_batch_size_per_image), 25 % positive, BoxCoder (10, 10, 5, 5)
    assert (head.fg_iou, head.bg_iou, head.low_quality, head.batch_size, head.positive_fraction, head.box_weights) == (
        0.5, 0.5, False, 128, 0.25, (10.0, 10.0, 5.0, 5.0))
    (ssd,) = match_rules(build_demo_model("demo-ssd"), "ssd")
    assert (ssd.matcher, ssd.fg_iou, ssd.neg_to_pos, ssd.box_weights) == ("SSDMatcher", 0.5, 3.0, (10, 10, 5, 5))


def test_label_colouring_without_ground_truth_is_a_user_error():
    inference, _ = _hand_rpn_case()
    with pytest.raises(ViewError, match="ground truth"):
        anchors_frame(inference, AnchorViewState(color_by="label"))
    with pytest.raises(ViewError, match="level 7"):
        anchors_frame(inference, AnchorViewState(level=7))


def test_a_model_without_anchors_is_refused_in_one_sentence():
    inference = Inference("demo-yolo", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-yolo has no anchors"):
        anchors_frame(inference)


@pytest.mark.parametrize("model", ["demo-frcnn", "demo-ssd"])
@pytest.mark.parametrize("color_by", ["label", "level"])
def test_all_levels_leave_most_of_the_frame_visible(model, color_by, qapp):
    # every anchor of every level drawn at once covered half the frame or more (a blue wash: 48 % label, 51 %
    # level on demo-frcnn; 61 % on demo-ssd): a sample of cells per level keeps the structure readable
    from pathlib import Path

    from detviewer.io.image_gt import ImageGroundTruth
    from detviewer.io.images import load_image
    from detviewer.render.qt.export import figure_scale, render_image
    from detviewer.render.qt.style import LECTURE, rgb_of_qimage

    root = Path(__file__).resolve().parents[2] / "assets" / "demo"
    image = load_image(root / "shapes_7_00000.png")
    detector = load_detector(model, device="cpu")
    inference = detector.infer(image)
    gt = ImageGroundTruth.load(root / "annotations.json").boxes_for(root / "shapes_7_00000.png", detector.class_names)
    frame = anchors_frame(inference, AnchorViewState(color_by=color_by), gt=gt.as_pair)
    assert frame.step_label == "All levels"
    anchors = [layer for layer in frame.layers if layer.name.startswith("anchors")]
    scale = figure_scale(image, 1920)
    drawn = rgb_of_qimage(render_image(image, anchors, scale, LECTURE)).astype(int)
    bare = rgb_of_qimage(render_image(image, [], scale, LECTURE)).astype(int)
    covered = float((np.abs(drawn - bare).sum(axis=2) > 30).mean())
    print(f"\n{model} all levels by {color_by}: {100 * covered:.1f} % of the figure's pixels under an outline")
    assert covered < 0.3
