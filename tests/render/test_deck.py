"""The lecture deck as data: every slide names a real view, step and controls; planning picks the model that can
show each slide; zooming cuts the frame and shifts every kind of layer."""

import numpy as np
import pytest

from detviewer.detectors.registry import model_info
from detviewer.render.model.crop import crop_frame, zoom_window
from detviewer.render.model.deck import LECTURE_DECK, plan_deck, resolve_step
from detviewer.render.model.pipeline import ModelAbilities, can_show, cannot_show
from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, ImageLayer, SegmentLayer, TextLayer
from detviewer.render.model.registry import VIEWS

DEMOS = ("demo-frcnn", "demo-ssd", "demo-yolo", "haar-frontalface", "hog-people")


def _models(*names: str) -> list[ModelAbilities]:
    return [ModelAbilities.of(model_info(name), name) for name in names]


def test_every_slide_names_a_view_and_valid_controls():
    sections = []
    for slide in LECTURE_DECK:
        spec = VIEWS[slide.view]
        for name, value in slide.controls.items():
            control = spec.control(name)
            assert control.kind != "choice" or value in control.choices
        assert isinstance(slide.step, (int, str)) and slide.title
        if not sections or sections[-1] != slide.section:
            sections.append(slide.section)
    # the classic order, each section once
    assert sections == ["Slide a window, classify every crop", "Before CNNs", "R-CNN", "Fast R-CNN", "Faster R-CNN",
                        "Mask R-CNN", "YOLO", "NMS", "SSD", "mAP"]


def test_roialign_is_filed_under_mask_rcnn_and_fast_rcnn_shows_roipool():
    # RoIAlign comes from Mask R-CNN (He et al. 2017); Fast R-CNN (Girshick 2015) pooled with RoIPool
    roi_slides = [s for s in LECTURE_DECK if s.view == "roi"]
    for slide in roi_slides:
        shows_align = slide.controls.get("roi", VIEWS["roi"].defaults()["roi"]) == "align" or slide.step == 3
        if shows_align or "RoIAlign" in slide.title:
            assert slide.section == "Mask R-CNN", slide.title
        else:
            assert slide.section == "Fast R-CNN" and slide.controls["roi"] == "pool", slide.title
    assert {s.section for s in roi_slides} == {"Fast R-CNN", "Mask R-CNN"}
    assert not any("RoIAlign" in s.title for s in LECTURE_DECK if s.section == "Fast R-CNN")


def test_the_prediction_t_is_introduced_before_any_slide_quotes_it():
    # the regression view's "Target t*" step quotes the prediction t (its residual t* − t): the deck shows the
    # "Predicted t" step, which introduces t, first
    steps = [s.step for s in LECTURE_DECK if s.view == "regression"]
    assert "Predicted t" in steps and "Target t*" in steps
    assert steps.index("Predicted t") < steps.index("Target t*")
    first = LECTURE_DECK.index(next(s for s in LECTURE_DECK if s.step == "Predicted t"))
    assert all(LECTURE_DECK.index(s) > first for s in LECTURE_DECK if "t*" in s.title)


def test_plan_binds_each_slide_to_the_first_able_model_and_prefers_where_asked():
    planned = plan_deck(_models(*DEMOS), has_gt=True)
    assert all(p.model >= 0 for p in planned)
    assert [p.number for p in planned] == list(range(1, len(LECTURE_DECK) + 1))
    by_view = {}
    for p in planned:
        by_view.setdefault(p.slide.view, set()).add(DEMOS[p.model])
    assert by_view["roi"] == {"demo-frcnn"} and by_view["grid"] == {"demo-yolo"}
    assert by_view["default-boxes"] == {"demo-ssd"} and by_view["map"] == {"demo-yolo"}  # prefer="grid"
    assert by_view["nms"] == {"demo-frcnn"}  # no capability needed: the first model
    # the deck opens on the classic detector: its first five slides are the Haar cascade's
    assert [DEMOS[p.model] for p in planned[:5]] == ["haar-frontalface"] * 5
    assert {p.slide.view for p in planned[:5]} == {"classic-pyramid", "classic-windows", "classic-grouping"}


def test_plan_leaves_out_what_cannot_be_shown_and_says_why():
    planned = plan_deck(_models("demo-ssd"), has_gt=False)
    reasons = {p.slide.title: p.reason for p in planned if p.model < 0}
    assert reasons["RoIPool: the box rounded to whole cells"] == "no model given can show it (needs proposals)"
    assert reasons["Fine-tuning samples: IoU ≥ 0.5, 32 + 96 per 128"] == "needs ground truth (--gt)"
    shown = [p for p in planned if p.model >= 0]
    assert [p.number for p in shown] == list(range(1, len(shown) + 1))
    assert {p.slide.view for p in shown} >= {"sliding-window", "default-boxes", "nms"}


def test_the_lecture_plans_no_slide_the_window_refuses_a_final_only_model():
    """An ONNX export with NMS built in outputs final detections only: the window refuses its NMS and internal
    views with the export's reason; the lecture plans none of them for it (it planned the NMS slides before)."""
    reason = "this ONNX export runs NMS inside the model: it outputs only final detections"
    final_only = ModelAbilities("yolo-export", frozenset({"grid"}), reason)
    planned = plan_deck([final_only], has_gt=True)
    for p in planned:
        spec = VIEWS[p.slide.view]
        own = not p.slide.needs or p.slide.needs in final_only.capabilities
        assert (p.model >= 0) == (can_show(spec, final_only) and own), p.slide.title
    skipped = {p.slide.view: p.reason for p in planned if p.model < 0}
    assert skipped["nms"] == f"no model given can show it: {reason}"
    assert cannot_show(VIEWS["nms"], final_only) == reason
    shown = {p.slide.view for p in planned if p.model >= 0}
    assert "nms" not in shown and "sliding-window" in shown


def test_resolve_step_counts_from_the_end_and_finds_labels():
    assert resolve_step(0, 5, str) == 0 and resolve_step(-1, 5, str) == 4 and resolve_step(9, 5, str) == 4
    labels = ["R-CNN fine-tuning", "Fast R-CNN minibatch", "RPN minibatch"]
    assert resolve_step("RPN minibatch", 3, labels.__getitem__) == 2
    with pytest.raises(ValueError, match="no step is called"):
        resolve_step("SSD", 3, labels.__getitem__)


def test_zoom_window_around_named_boxes_at_an_aspect():
    layers = [BoxLayer("proposal", np.array([[100, 100, 140, 120]], np.float32), np.zeros((1, 3), np.uint8),
                       np.zeros(1, np.int64)),
              BoxLayer("other", np.array([[0, 0, 300, 300]], np.float32), np.zeros((1, 3), np.uint8),
                       np.zeros(1, np.int64))]
    # 40×20 grown by 0.5 of its size each side: 80×40, widened to aspect 1: 80×80 about (120, 110)
    np.testing.assert_allclose(zoom_window(layers, ("proposal",), (300, 400), 1.0, margin=0.5), [80, 70, 160, 150])
    # slid inside the frame at its edge
    np.testing.assert_allclose(zoom_window(layers, ("proposal",), (130, 400), 1.0, margin=0.5), [80, 50, 160, 130])
    assert zoom_window(layers, ("other",), (300, 300), 1.0) is None  # the whole frame: no zoom
    assert zoom_window(layers, ("missing",), (300, 300), 1.0) is None


def test_crop_shifts_every_kind_of_layer():
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    colors = np.zeros((1, 3), np.uint8)
    layers = [BoxLayer("b", np.array([[10, 5, 20, 15]], np.float32), colors, np.zeros(1, np.int64)),
              SegmentLayer("s", [[10, 5, 20, 15]], colors),
              TextLayer("t", [[10, 5]], ("x",), colors),
              HeatmapLayer("h", [10, 5, 20, 15], np.zeros((2, 2))),
              ImageLayer("i", np.zeros((1, 2, 2, 3), np.uint8), [[10, 5, 20, 15]], colors)]
    cut, shifted = crop_frame(image, layers, np.array([4.5, 2.2, 25.0, 18.9]))
    np.testing.assert_array_equal(cut, image[2:19, 4:25])  # rounded out to whole pixels
    np.testing.assert_allclose(shifted[0].xyxy, [[6, 3, 16, 13]])
    np.testing.assert_allclose(shifted[1].segments, [[6, 3, 16, 13]])
    np.testing.assert_allclose(shifted[2].positions, [[6, 3]])
    np.testing.assert_allclose(shifted[3].rect, [6, 3, 16, 13])
    np.testing.assert_allclose(shifted[4].rects, [[6, 3, 16, 13]])
