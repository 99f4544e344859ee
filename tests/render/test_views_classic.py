"""The classic detectors' views on a hand-made trace (numbers checked by hand) and on the shipped astronaut photo."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.core.classic import ClassicTrace, group_rectangles
from detviewer.core.types import Detections, Inference
from detviewer.detectors.classic import haar_pyramid
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.registry import VIEWS
from detviewer.render.model.views.classic_grouping import grouping_frame, grouping_steps
from detviewer.render.model.views.classic_pyramid import pyramid_frame, pyramid_steps
from detviewer.render.model.views.classic_windows import margin_rect, windows_frame, windows_steps

# A 100×80 photo, a 24×24 window, factor 1.25: windows 24, 30, 38 (37.5 rounds to even), 47, 59, 73 px; 92 > 80 stops.
# Scanned sizes cvRound(80 / f) × cvRound(100 / f): 80×100, 64×80, 51×64, 41×51, 33×41, 26×33.
# Step 2 px below factor 2, 1 px from 2.44 on; positions (h - 24) // step + 1 by (w - 24) // step + 1.
LEVELS = [((80, 100), 24, 2, (29, 39)), ((64, 80), 30, 2, (21, 29)), ((51, 64), 38, 2, (14, 21)),
          ((41, 51), 47, 2, (9, 14)), ((33, 41), 59, 1, (10, 18)), ((26, 33), 73, 1, (3, 10))]

# Raw windows (x, y, w, h): four 24-px windows within 2 px of each other (one cluster of 4 > minNeighbors 3) and one
# alone at (70, 50) (a cluster of 1: dropped). Their mean: x (10+12+10+11)/4 = 10.75 -> 11, y (10+10+12+11)/4 = 10.75
# -> 11. Greedy NMS at IoU 0.5 keeps the best of the four (IoU of two 24-px windows 2 px apart = 528 / 624 = 0.85)
# and the lone window.
RAW = np.array([[10, 10, 24, 24], [12, 10, 24, 24], [10, 12, 24, 24], [11, 11, 24, 24], [70, 50, 24, 24]])
SCORES = np.array([0.5, 2.0, -1.0, 1.0, 3.0], np.float32)


def hand_inference(margins: tuple = ()) -> Inference:
    levels = haar_pyramid((80, 100), (24, 24), 1.25)
    groups = group_rectangles(RAW, 3, 0.2)
    raw = np.concatenate([RAW[:, :2], RAW[:, :2] + RAW[:, 2:]], axis=1).astype(np.float32)
    trace = ClassicTrace("hog" if margins else "haar", (24, 24), 1.25, levels, raw, SCORES, np.zeros(5, np.int64),
                         groups, margins)
    return Inference("hand-classic", (80, 100), Detections.empty(), Detections.empty(), classic=trace)


def test_the_pyramid_sizes_windows_and_positions_are_opencvs():
    levels = hand_inference().classic.levels
    assert [(lv.image_size, lv.window[0], lv.step, lv.grid) for lv in levels] == LEVELS


def test_pyramid_steps_say_the_scanned_size_the_window_and_the_positions():
    inference = hand_inference()
    assert pyramid_steps(inference) == 6
    frame = pyramid_frame(inference, 1, image=np.zeros((80, 100, 3), np.uint8))
    assert (frame.step, frame.step_count, frame.step_label) == (1, 6, "×1.25: 80×64")
    assert "shrunk 1.25× to 80×64 px" in frame.caption
    assert "24×24 window (yellow) then covers 30×30 px of the photo" in frame.caption
    assert "29 × 21 = 609 positions, 2 px apart" in frame.caption
    np.testing.assert_array_equal(frame.layer("scaled_image").rects, [[0, 0, 80, 64]])
    assert frame.layer("scaled_image").images.shape == (1, 64, 80, 3)
    np.testing.assert_array_equal(frame.layer("pyramid_outlines").xyxy[:, 2:],
                                  [(w, h) for (h, w), *_ in LEVELS])
    window = frame.layer("window_in_photo").xyxy[0]
    assert window[2] - window[0] == 30 == window[3] - window[1]
    assert frame.layer("window_in_photo").labels == ("30×30 in the photo",)
    last = pyramid_frame(inference, 99)
    assert last.step == 5 and "10 × 3 = 30 positions, 1 px apart" in last.caption
    # the last scale's 73-px window, at the photo's bottom right from (27, 7), holds the 33×26 shrunk image's
    # corner: its label would cover that image, the step's subject
    np.testing.assert_array_equal(last.layer("window_in_photo").xyxy, [[27, 7, 100, 80]])
    assert last.layer("window_in_photo").labels == ("",) and last.layer("window_scanned").labels == ("24×24",)


def test_windows_steps_show_each_scale_then_all_scales():
    inference = hand_inference()
    assert windows_steps(inference) == 7
    first = windows_frame(inference, 0)
    assert first.layer("raw_windows").index.tolist() == [4, 1, 3, 0, 2]  # by falling score
    assert first.layer("raw_windows").labels[0] == "3.00"
    assert "1,131 windows of 24×24 px tried, 5 passed every stage" in first.caption  # 39 × 29 = 1,131
    assert "-1.00 … 3.00" in first.caption
    empty = windows_frame(inference, 1)
    assert len(empty.layer("raw_windows")) == 0 and "609 windows of 30×30 px tried, 0 passed" in empty.caption
    every = windows_frame(inference, 6)
    assert every.step_label == "All scales" and len(every.layer("raw_windows")) == 5
    assert "accepted 5 of 2,370 windows, at 1 of the scales" in every.caption
    assert "4 of them sit on one spot" in every.caption  # 1131 + 609 + 294 + 126 + 180 + 30
    assert [text for text, _ in every.legend] == ["24 px windows"]  # the sizes of the accepted windows
    assert "Scale 1 of 6: the photo itself, 100×80 px" in pyramid_frame(inference, 0).caption


def test_hog_margins_are_a_heat_map_with_one_cell_per_window_centre():
    levels = hand_inference().classic.levels
    margins = tuple(np.linspace(-2, 1, lv.positions, dtype=np.float32).reshape(lv.grid) for lv in levels)
    inference = hand_inference(margins)
    frame = windows_frame(inference, 1)
    heat = frame.layer("svm_margin")
    assert heat.values.shape == (21, 29)
    # scale 1.25: cells 2 px wide (2.5 in the photo), centred on the windows' centres: first centre (12, 12) × 1.25
    np.testing.assert_allclose(margin_rect(inference, inference.classic, 1), [13.75, 13.75, 86.25, 66.25])
    assert "the SVM margin of each of the 29 × 21 = 609 HOG windows" in frame.caption


def test_grouping_steps_through_opencvs_clusters_then_shows_both_results():
    inference = hand_inference()
    assert grouping_steps(inference, "opencv") == 4  # raw, 2 clusters, result
    start = grouping_frame(inference, "opencv", 0)
    assert "5 raw windows before grouping" in start.caption and "more than 3 windows" in start.caption
    big = grouping_frame(inference, "opencv", 1)
    assert big.layer("cluster_windows").index.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(big.layer("cluster_mean").xyxy, [[11, 11, 35, 35]])
    assert "4 raw windows (yellow) averaged to 24×24 at (11, 11); kept: 4 windows > minNeighbors 3" in big.caption
    lone = grouping_frame(inference, "opencv", 2)
    assert "dropped: 1 window ≤ minNeighbors 3" in lone.caption
    assert lone.layer("kept_so_far").xyxy.tolist() == [[11, 11, 35, 35]]
    end = grouping_frame(inference, "opencv", 3)
    assert len(end.layer("grouping_result")) == 1 and sorted(end.layer("nms_result").index.tolist()) == [1, 4]
    assert "grouping keeps 1" in end.caption and "greedy NMS at IoU 0.5 keeps 2" in end.caption


def test_grouping_nms_mode_steps_like_the_nms_view():
    inference = hand_inference()
    assert grouping_steps(inference, "nms", 0.5) == 4  # start, keep #5, keep #2, result
    step1 = grouping_frame(inference, "nms", 1, 0.5)
    assert step1.layer("kept_now").index.tolist() == [4] and len(step1.layer("suppressed")) == 0
    step2 = grouping_frame(inference, "nms", 2, 0.5)
    assert step2.layer("kept_now").index.tolist() == [1]
    assert sorted(step2.layer("suppressed").index.tolist()) == [0, 2, 3]
    assert "removes 3 windows overlapping it by IoU > 0.5" in step2.caption
    # at IoU 0.9 nothing overlaps enough: every window is kept
    assert grouping_steps(inference, "nms", 0.9) == 7


def test_a_model_without_a_classic_trace_cannot_show_the_views():
    plain = Inference("demo-ssd", (80, 100), Detections.empty(), Detections.empty())
    for view in ("classic-pyramid", "classic-windows", "classic-grouping"):
        assert VIEWS[view].needs == "classic"
    with pytest.raises(ViewError, match="not a classic sliding-window detector"):
        pyramid_frame(plain, 0)


# -- the shipped astronaut photo: every legend swatch visible on lecture mode's black -----------------------------
MIN_CONTRAST_ON_BLACK = 3.0  # WCAG's minimum for graphics
#: two legend colours closer than this (Euclidean RGB) read as one on a projector (as tests/render/test_legends.py)
MIN_DISTANCE = 50.0


def contrast_on_black(rgb) -> float:
    """WCAG 2 contrast ratio of an sRGB colour (0..255) against #000000."""
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float((0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05) / 0.05)


@pytest.fixture(scope="module", params=["hog-people", "haar-frontalface"])
def astronaut(request):
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    from detviewer.resources import assets_dir

    image = load_image(assets_dir() / "photos" / "astronaut.png")
    return request.param, image, load_detector(request.param, device="cpu").infer(image)


def every_classic_frame(inference, image):
    """[(view, step, ViewFrame)] of every step of the three classic views (grouping in both modes)."""
    frames = [("classic-pyramid", k, pyramid_frame(inference, k, image)) for k in range(pyramid_steps(inference))]
    frames += [("classic-windows", k, windows_frame(inference, k)) for k in range(windows_steps(inference))]
    for mode in ("opencv", "nms"):
        frames += [(f"classic-grouping {mode}", k, grouping_frame(inference, mode, k))
                   for k in range(grouping_steps(inference, mode))]
    return frames


def test_every_classic_legend_swatch_reads_on_black_and_differs_from_the_others(astronaut):
    # HOG's heat map used inferno, whose low end (0, 0, 4) is black on black: the "low margin" swatch vanished in
    # lecture mode and on the figures' legend; the cascade's scores and window sizes used viridis, (68, 1, 84) = 1.6:1
    model, image, inference = astronaut
    checked = 0
    for view, step, frame in every_classic_frame(inference, image):
        where = f"{model} {view} step {step + 1}"
        assert frame.legend, f"{where}: no legend"
        for text, colour in frame.legend:
            assert contrast_on_black(colour) >= MIN_CONTRAST_ON_BLACK, \
                f"{where}: {text!r} {colour} is {contrast_on_black(colour):.2f}:1 on black"
        colours = np.array([c for _, c in frame.legend], np.float64)
        i, j = np.triu_indices(len(colours), 1)
        alike = [(frame.legend[a][0], frame.legend[b][0]) for a, b in zip(i, j)
                 if np.linalg.norm(colours[a] - colours[b]) < MIN_DISTANCE]
        assert not alike, f"{where}: legend colours alike: {alike}"
        checked += 1
    assert checked >= 60


def test_hog_heat_map_lets_the_photo_show_where_the_svm_says_no(astronaut):
    # the heat map over the photo: its lowest margins nearly transparent, its best nearly opaque, its colours the
    # ones its legend names; the windows above the threshold drawn in the legend's own colour, not the heat map's
    model, image, inference = astronaut
    if model != "hog-people":
        pytest.skip("only HOG has a margin per window")
    trace = inference.classic
    k = int(trace.raw_level[np.argmax(trace.raw_scores)])  # the scale of the best window
    frame = windows_frame(inference, k)
    heat = frame.layer("svm_margin")
    alphas = heat.alphas()
    assert alphas.min() < 100 < 200 <= alphas.max()
    legend = dict(frame.legend)
    low = next(colour for text, colour in frame.legend if "≤" in text)
    assert tuple(int(v) for v in heat.rgb()[alphas == alphas.min()][0]) == low
    boxes = frame.layer("raw_windows")
    assert len(boxes) == int((trace.raw_level == k).sum()) > 0
    assert {tuple(int(v) for v in c) for c in boxes.colors} == {legend["a window above 0"]}
    assert "red: no person, yellow: person" in frame.caption
