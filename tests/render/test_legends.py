"""Every view's legend on the demo models, every step: its colours are distinct, so no two entries read alike
(box 2 and "circle most likely" both teal, grid and ground truth both white, were), and Selective Search's
legend names the colours its layers draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detviewer.render.model.primitives import BoxLayer, ImageLayer, SegmentLayer, TextLayer, ViewError
from detviewer.render.model.registry import VIEWS

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "assets" / "demo" / "shapes_7_00000.png"
ANNOTATIONS = ROOT / "assets" / "demo" / "annotations.json"
MODELS = ("demo-frcnn", "demo-ssd", "demo-yolo")
#: Two legend colours closer than this (Euclidean RGB) read as one on a projector.
MIN_DISTANCE = 50.0


def model_frames(model: str):
    """[(view, step, ViewFrame)] of every view demo ``model`` can show, at every step, with ground truth."""
    from detviewer.cli.render import image_ground_truth, view_frame
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    from detviewer.state.nms_replay import Thresholds

    image = load_image(IMAGE)
    detector = load_detector(model, device="cpu")
    inference = detector.infer(image)
    gt = image_ground_truth(ANNOTATIONS, IMAGE).boxes_for(IMAGE, detector.class_names)
    out = []
    for name in VIEWS:
        def frame(step=None, name=name):
            return view_frame(name, inference, detector, thresholds=Thresholds(), gt=gt, image=image, step=step)
        try:
            first = frame(0)
        except ViewError:
            continue
        out += [(name, step, first if step == 0 else frame(step)) for step in range(first.step_count)]
    return out


@pytest.fixture(scope="module", params=MODELS)
def frames(request):
    return request.param, model_frames(request.param)


def layer_colors(layer) -> set[tuple[int, int, int]]:
    if isinstance(layer, (BoxLayer, SegmentLayer, TextLayer, ImageLayer)) and len(layer):
        return {tuple(int(v) for v in c) for c in np.unique(np.asarray(layer.colors).reshape(-1, 3), axis=0)}
    return set()


def test_no_legend_shows_one_colour_twice(frames):
    model, built = frames
    checked = 0
    for view, step, frame in built:
        colours = np.array([c for _, c in frame.legend], np.float64).reshape(-1, 3)
        if len(colours) < 2:
            continue
        distance = np.linalg.norm(colours[:, None] - colours[None], axis=2)
        i, j = np.triu_indices(len(colours), 1)
        close = [(frame.legend[a][0], frame.legend[b][0]) for a, b in zip(i, j) if distance[a, b] < MIN_DISTANCE]
        assert not close, f"{model} {view} step {step + 1}: legend colours alike: {close}"
        checked += 1
    assert checked >= 10


def test_selective_search_legend_names_the_colours_drawn(frames):
    model, built = frames
    if model != "demo-frcnn":
        pytest.skip("Selective Search does not depend on the model")
    for view, step, frame in built:
        if view != "selective-search":
            continue
        drawn = set().union(*(layer_colors(layer) for layer in frame.layers))
        legend = {c for _, c in frame.legend}
        for text, colour in frame.legend:
            assert colour in drawn, f"step {step + 1}: the legend's {text!r} {colour} is drawn nowhere"
        for layer in frame.layers:
            if isinstance(layer, BoxLayer) and layer.labels and any(layer.labels):
                assert layer_colors(layer) & legend, f"step {step + 1}: no legend entry names {layer.name}'s colours"


HIDDEN_PANEL_WORDS = ("in the table", "side panel", "the panel", "see the table")


def test_no_caption_points_at_a_hidden_panel(frames):
    # lecture mode and slides show no side panel: "the cell's 16 numbers are in the table" pointed at one
    model, built = frames
    for view, step, frame in built:
        caption = frame.caption.lower()
        assert not any(words in caption for words in HIDDEN_PANEL_WORDS), f"{model} {view} step {step + 1}: {caption}"


def test_the_yolo_cell_slide_keeps_the_rows_its_caption_cites(frames, qapp):
    # slide 21 (demo-yolo, grid, one cell) had room for 13 of the cell's 16 rows and cut P(star), P(ring) and
    # P(cross), while its caption named the best class; the rows a caption cites are never the ones left out
    from detviewer.render.qt.slide import SlideText, cited_rows, more_rows_note, table_fit

    model, built = frames
    if model != "demo-yolo":
        pytest.skip("the YOLO grid is demo-yolo's")
    cells = [frame for view, step, frame in built if view == "grid" and step > 0]
    assert cells
    for frame in cells:
        text = SlideText("YOLO · One cell's boxes and class probabilities", caption=frame.caption,
                         legend=tuple(frame.legend), table=list(frame.table))
        shown, left_out = table_fit(text, (320, 320))
        cited = {frame.table[i][0] for i in cited_rows(frame.table, frame.caption)}
        assert any(key.endswith(")") and "P(" in key for key in cited)  # the best class's probability
        assert any(key.endswith("conf") for key in cited)  # the confidence of the box it scores
        assert cited <= set(shown), f"cited rows left out: {cited - set(shown)}"
        assert len(shown) + left_out == len(frame.table)
    assert "panel" not in more_rows_note(3) and more_rows_note(1) == "+ 1 more row not shown"
