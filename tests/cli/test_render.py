"""`detviewer render`: every view of a suitable model, offscreen; pixels show boxes where expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detviewer.cli import main

IMAGE = Path(__file__).resolve().parents[2] / "assets" / "demo" / "shapes_7_00000.png"

# view -> (model, weights)
CASES = {
    "detections": ("demo-frcnn", "default"), "nms": ("demo-frcnn", "default"), "anchors": ("demo-frcnn", "default"),
    "proposals": ("demo-frcnn", "default"), "regression": ("demo-frcnn", "default"), "roi": ("demo-frcnn", "default"),
    "sliding-window": ("demo-frcnn", "default"), "selective-search": ("demo-frcnn", "default"),
    "default-boxes": ("demo-ssd", "none"), "grid": ("demo-yolo", "none"),
}


def _render(tmp_path, view, model, weights, *extra, suffix=".png"):
    out = tmp_path / f"{view}{suffix}"
    code = main(["render", str(IMAGE), "--model", model, "--weights", weights, "--device", "cpu", "--view", view,
                 "--size", "320", "--out", str(out), *extra])  # the demo image's own size: pixels line up
    return code, out


def figure_pixels(out) -> np.ndarray:
    """The figure between its title band (a dark line saying what the figure shows) and its caption band."""
    from detviewer.render.qt.export import figure_layout
    from detviewer.render.qt.style import NORMAL

    figure = np.asarray(Image.open(out).convert("RGB")).astype(int)
    h, w = Image.open(IMAGE).size[::-1]
    band = figure_layout(np.zeros((h, w, 3), np.uint8), figure.shape[1] / w, NORMAL, "title").title_band
    below = figure.shape[0] - band - round(h * figure.shape[1] / w)
    assert band > 10 and (figure[:band, :4] < 40).all()  # a title band is there, black at its left end
    assert below > 10 and (figure[-below:, :4] < 40).all()  # and a caption band under the image
    return figure[band:band + round(h * figure.shape[1] / w)]


@pytest.mark.parametrize("view", list(CASES))
def test_render_draws_each_view(view, tmp_path, capsys):
    model, weights = CASES[view]
    code, out = _render(tmp_path, view, model, weights)
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    figure = figure_pixels(out)
    source = np.asarray(Image.open(IMAGE).convert("RGB")).astype(int)
    assert figure.shape == source.shape
    changed = np.abs(figure - source).sum(axis=2) > 60
    assert changed.mean() > 0.002, "nothing was drawn over the image"


def test_anchor_level_pixels_sit_on_the_generator_boxes(tmp_path):
    """--step 4: the fourth level (8x8, 192 anchors); their outlines are drawn, their insides untouched."""
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    code, out = _render(tmp_path, "anchors", "demo-frcnn", "default", "--step", "4")
    assert code == 0
    image = load_image(IMAGE)
    anchors = load_detector("demo-frcnn", device="cpu").infer(image).anchors[3]
    figure = figure_pixels(out)
    source = image.astype(int)
    changed = np.abs(figure - source).sum(axis=2) > 40
    h, w = changed.shape
    on_edges = 0
    boxes = anchors.boxes
    inside = (boxes[:, 0] > 1) & (boxes[:, 2] < w - 2) & (boxes[:, 1] > 1) & (boxes[:, 3] < h - 2)
    for x1, y1, _x2, y2 in boxes[inside]:
        on_edges += changed[int(round((y1 + y2) / 2)), int(round(x1)) - 1: int(round(x1)) + 2].any()
    assert inside.any() and on_edges == inside.sum()


def test_svg_output(tmp_path):
    code, out = _render(tmp_path, "regression", "demo-frcnn", "default", suffix=".svg")
    assert code == 0 and "<svg" in out.read_text()


def test_a_view_the_model_cannot_show_exits_2_with_one_line(tmp_path, capsys):
    code, out = _render(tmp_path, "grid", "ssdlite320_mobilenet_v3_large", "none")
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "cannot show the YOLO grid view" in err and "YOLOv1" in err


def test_bad_output_suffix_exits_2(tmp_path, capsys):
    code = main(["render", str(IMAGE), "--model", "demo-yolo", "--weights", "none", "--view", "grid",
                 "--out", str(tmp_path / "fig.gif")])
    assert code == 2 and "fig.gif" in capsys.readouterr().err


GT = IMAGE.parent / "annotations.json"


def test_ground_truth_reaches_the_views(tmp_path, capsys):
    """--gt: SSD matching and hard negatives in the default-box view; TP / FP / missed over the detections,
    the GT boxes' outlines drawn in white."""
    from detviewer.io.image_gt import ImageGroundTruth

    code, out = _render(tmp_path, "default-boxes", "demo-ssd", "default", "--gt", str(GT))
    assert code == 0
    caption = capsys.readouterr().out
    assert "SSD's rule (SSDMatcher 0.5)" in caption and "hard negative mining" in caption

    (tmp_path / "no-gt").mkdir()
    code, without = _render(tmp_path / "no-gt", "detections", "demo-ssd", "default", "--score", "0.5")
    assert code == 0
    code, out = _render(tmp_path, "detections", "demo-ssd", "default", "--gt", str(GT), "--score", "0.5")
    assert code == 0
    assert "TP " in capsys.readouterr().out
    gt = ImageGroundTruth.load(GT).boxes_for(IMAGE)
    figure, plain = figure_pixels(out), figure_pixels(without)
    changed = np.abs(figure - plain).sum(axis=2) > 60
    for x1, y1, x2, y2 in np.round(gt.xyxy).astype(int):
        # each object's outline is drawn (white, or orange when missed): along each side, some pixel within
        # 2 px of it changed; a detection's own edge 2 px away may cover a side, labels stretches of others
        sides = [changed[y - 2:y + 3, x1:x2 + 1].any(axis=0).mean() for y in (y1, y2)]
        sides += [changed[y1:y2 + 1, x - 2:x + 3].any(axis=1).mean() for x in (x1, x2)]
        assert sum(side > 0.5 for side in sides) >= 2 and np.mean(sides) > 0.3, \
            f"the ground-truth box {x1, y1, x2, y2} is not drawn (share of each side drawn: {np.round(sides, 2)})"


def test_an_image_the_ground_truth_does_not_list_exits_2(tmp_path, capsys):
    other = tmp_path / "other.png"
    other.write_bytes(IMAGE.read_bytes())
    code = main(["render", str(other), "--model", "demo-yolo", "--weights", "none", "--view", "grid",
                 "--gt", str(GT), "--out", str(tmp_path / "fig.png")])
    err = capsys.readouterr().err
    assert code == 2 and "is not an image of" in err and err.count("\n") == 1


def test_yolo_cells_view_of_an_onnx_export(tmp_path, capsys):
    import sys
    import warnings

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
    from onnx_fakes import export_yolo, prediction_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = export_yolo(tmp_path / "m.onnx", "v8", [(prediction_index((320, 320), 1, 12, 7), (200, 120, 64, 48), 1, 0.9)])
    out = tmp_path / "cells.png"
    code = main(["render", str(IMAGE), "--model", str(model), "--view", "yolo-cells", "--step", "2", "--out", str(out)])
    assert code == 0
    assert "cell (column 12, row 7) of the stride-16 map" in capsys.readouterr().out
    figure = figure_pixels(out)
    source = np.asarray(Image.open(IMAGE).convert("RGB")).astype(int)
    # the 320×320 demo image needs no letterbox: the cell is input pixels 192..208 × 112..128, filled yellow
    assert np.abs(figure[120, 200] - source[120, 200]).sum() > 60


def test_slide_puts_the_view_beside_its_caption_legend_and_table(tmp_path, capsys):
    """--slide: 1920×1080; the view drawn by the figure code at the slide's scale where slide_layout says; the
    text column is not empty; the bottom margin is."""
    from detviewer.render.qt.slide import SLIDE_SIZE, slide_layout

    code, out = _render(tmp_path, "roi", "demo-frcnn", "default", "--slide", "--roi", "pool", "--step", "3")
    assert code == 0, capsys.readouterr().err
    assert "RoIPool rounds the box to whole cells" in capsys.readouterr().out
    slide = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert slide.shape == (SLIDE_SIZE[1], SLIDE_SIZE[0], 3)
    scale, image_rect, column = slide_layout((320, 320))
    x0, y0 = round(image_rect.left()), round(image_rect.top())
    source = np.asarray(Image.open(IMAGE).convert("RGB")).astype(int)
    # a corner of the frame far from the proposal: the image, scaled
    patch = slide[y0 + round(300 * scale):y0 + round(310 * scale), x0 + round(10 * scale):x0 + round(20 * scale)]
    assert np.abs(patch.mean(axis=(0, 1)) - source[300:310, 10:20].mean(axis=(0, 1))).max() < 25
    text = slide[round(column.top()):round(column.top()) + 300, round(column.left()):]
    assert (text.max(axis=2) > 200).mean() > 0.01  # light text on the dark column
    assert (slide[-30:, :, :] == slide[-1, -1]).all()  # nothing runs into the bottom margin


def test_box_picks_the_detection_whose_proposal_the_regression_explains(tmp_path, capsys):
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    from detviewer.render.model.views.box_regression import proposal_for_detection

    code, _ = _render(tmp_path, "regression", "demo-frcnn", "default", "--box", "2", "--step", "1")
    assert code == 0
    inference = load_detector("demo-frcnn", device="cpu").infer(load_image(IMAGE))
    j, _ = proposal_for_detection(inference, 1)
    assert f"Proposal {j + 1}, the one behind detection 2: " in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (("--view", "grid", "--box", "1"), "--box does not apply to the grid view"),
    (("--view", "regression", "--box", "0"), "--box counts from 1"),
    (("--view", "anchors", "--point", "3;4"), "--point takes X,Y in image pixels"),
    (("--view", "roi", "--point", "3,4"), "--point does not apply to the roi view"),
    (("--view", "roi", "--slide", "--out", "x.svg"), "use a .png or .jpg file name"),
])
def test_pick_and_slide_mistakes_are_one_sentence(extra, message, tmp_path, capsys):
    argv = ["render", str(IMAGE), "--model", "demo-frcnn", "--out", str(tmp_path / "fig.png"), *extra]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_point_picks_the_cell_the_anchors_view_shows(tmp_path, capsys):
    code, _ = _render(tmp_path, "anchors", "demo-frcnn", "none", "--point", "120,160", "--step", "5")
    assert code == 0
    assert "The point (120, 160) falls in one cell per level" in capsys.readouterr().out


def test_the_selected_candidate_is_highlighted_only_when_asked(tmp_path, capsys):
    # --box on the NMS view selects a candidate as a click does; the figure leaves its cyan highlight out
    # unless --highlight asks for it (a slide shows the step, not the window's selection)
    code, plain = _render(tmp_path, "nms", "demo-frcnn", "default", "--box", "1", "--step", "2")
    assert code == 0, capsys.readouterr().err
    highlighted = tmp_path / "highlighted.png"
    assert main(["render", str(IMAGE), "--model", "demo-frcnn", "--device", "cpu", "--view", "nms", "--box", "1",
                 "--step", "2", "--size", "320", "--highlight", "--out", str(highlighted)]) == 0
    without, marked = figure_pixels(plain), figure_pixels(highlighted)
    cyan = np.array([0, 255, 255])
    assert not (np.abs(without - cyan).sum(axis=2) < 60).any()
    assert (np.abs(marked - cyan).sum(axis=2) < 60).sum() > 20
