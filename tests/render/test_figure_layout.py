"""Where a figure's title and legend go: the title fits its band, the legend takes the free corner."""

from __future__ import annotations

import numpy as np

from detviewer.render.model.primitives import BoxLayer, ViewFrame, solid
from detviewer.render.model.spec import figure_title

LEGEND = (("kept (class colours)", (0, 158, 115)), ("ground truth", (255, 255, 255)))


def test_figure_title_names_a_one_step_view_once():
    one_step = ViewFrame(step_label="Detections")
    assert figure_title("Detections", one_step, "demo-ssd") == "Detections · demo-ssd"
    stepped = ViewFrame(step=2, step_count=5, step_label="Level 3")
    assert figure_title("Anchors", stepped, "demo-frcnn") == "Anchors · demo-frcnn · Step 3 of 5: Level 3"


def test_legend_takes_the_corner_hiding_the_fewest_outlines(qapp):
    from detviewer.render.qt.legend import legend_rect
    from detviewer.render.qt.style import NORMAL, LabelFonts

    fonts, bounds = LabelFonts(NORMAL), (400.0, 300.0)
    x, y, w, h = legend_rect(LEGEND, fonts, bounds)
    assert x == 8 and y + h == 300 - 8  # no boxes: bottom left
    # two boxes crossing the bottom left and one the bottom right: the top left is free
    boxes = np.array([[0, 250, 50, 299], [20, 280, 120, 295], [350, 280, 399, 299]], np.float64)
    x, y, w, h = legend_rect(LEGEND, fonts, bounds, boxes)
    assert (x, y) == (8, 8)
    # a box around the whole image hides no outline anywhere: bottom left again
    x, y, _, _ = legend_rect(LEGEND, fonts, bounds, np.array([[0, 0, 400, 300]], np.float64))
    assert (x, y + h) == (8, 292)


def test_a_huge_layer_decides_the_corner_from_an_even_sample(qapp):
    from detviewer.render.qt.legend import MAX_LEGEND_BOXES, legend_rect, screen_boxes
    from detviewer.render.qt.style import NORMAL, LabelFonts

    rng = np.random.default_rng(0)
    xy = rng.uniform([0, 220], [120, 290], (250_000, 2)).astype(np.float32)  # all in the bottom left
    layer = BoxLayer("anchors", np.concatenate([xy, xy + 6], axis=1), solid((0, 0, 255), len(xy)),
                     np.arange(len(xy)))
    boxes = screen_boxes([layer], lambda points: points)
    assert len(boxes) <= MAX_LEGEND_BOXES and np.array_equal(boxes[0], layer.xyxy[0].astype(np.float64))
    x, y, _, _ = legend_rect(LEGEND, LabelFonts(NORMAL), (400.0, 300.0), boxes)
    assert (x, y) != (8, 300 - 8 - legend_rect(LEGEND, LabelFonts(NORMAL), (400.0, 300.0))[3])


def test_exported_legend_leaves_a_box_at_the_bottom_left_visible(qapp):
    from detviewer.render.qt.export import figure_size, render_image

    image = np.full((200, 300, 3), 40, np.uint8)
    boxes = np.array([[4, 150, 120, 196]], np.float32)  # where the legend would go by default
    layer = BoxLayer("gt", boxes, solid((255, 255, 255), 1), np.zeros(1, np.int64), width=2.0)
    picture = render_image(image, [layer], 1.0, title="Detections · demo", legend=LEGEND)
    width, height = figure_size(image, 1.0, title="Detections · demo")
    pixels = np.asarray(picture.convertToFormat(picture.Format.Format_RGB888).constBits()).reshape(height, -1)
    pixels = pixels[:, :width * 3].reshape(height, width, 3)
    band = height - 200
    bottom_edge = pixels[band + 195, 10:110]
    assert (bottom_edge.min(axis=1) > 200).mean() > 0.9, "the legend covers the box's bottom edge"


def test_a_long_title_shrinks_to_fit_its_band(qapp):
    from PySide6.QtGui import QFontMetricsF

    from detviewer.render.qt.export import _title_font

    title = "Detections · demo-ssd · Step 3 of 5: Level 3"
    font, text = _title_font(title, 18, 300)
    assert text == title and font.pixelSize() < 18
    assert QFontMetricsF(font).horizontalAdvance(text) <= 300
    font, text = _title_font(title * 4, 18, 300)
    assert text.endswith("…") and font.pixelSize() == 11


def _map_case():
    """A 200×300 frame with cats in every corner and a dog: the cats' PR chart must cover one of them."""
    from detviewer.core.types import Detections, Inference

    names = ("__background__", "cat", "dog")
    boxes = np.array([[10, 10, 60, 60], [240, 10, 290, 60], [10, 140, 60, 190], [240, 140, 290, 190],
                      [120, 80, 180, 120]], np.float32)
    det = Detections(boxes + 2, np.array([0.9, 0.8, 0.7, 0.6, 0.5], np.float32), np.array([1, 1, 1, 1, 2]), names)
    return Inference("hand", (200, 300), det, det), (boxes, np.array([1, 1, 1, 1, 2]))


def test_box_labels_stay_off_the_pr_chart(qapp):
    from PySide6.QtGui import QTransform

    from detviewer.render.model.views.map_view import map_frame
    from detviewer.render.qt.labels import place_layer_labels
    from detviewer.render.qt.style import LECTURE, LabelFonts

    inference, gt = _map_case()
    frame = map_frame(inference, 1, gt=gt)
    scale = 1920 / 300
    chart = frame.layer("pr_backdrop").xyxy[0] * scale
    placement = place_layer_labels(frame.layers, QTransform.fromScale(scale, scale), LabelFonts(LECTURE),
                                   (1920.0, 200 * scale))
    texts = {layer.name: set(getattr(layer, "labels", ()) or getattr(layer, "texts", ())) for layer in frame.layers}
    box_texts = texts["detections"] | texts["ground_truth"]
    assert placement.overlaps() == 0
    on_chart = [text for (x, y, w, h), text in zip(placement.rects, placement.texts)
                if text in box_texts and x < chart[2] and x + w > chart[0] and y < chart[3] and y + h > chart[1]]
    assert not on_chart, f"box labels drawn over the PR chart: {on_chart}"
    assert set(placement.texts) & texts["pr_text"] == texts["pr_text"]  # the chart's own texts are all there


def test_map_bar_chart_axis_and_bar_labels_share_one_scale():
    from detviewer.render.model.views.map_view import map_frame

    inference, gt = _map_case()
    frame = map_frame(inference, -1 % 4, gt=gt)  # the last step: mAP50 per class as bars
    bars = frame.layer("bars")
    ticks = [float(t) for t in frame.layer("bars_text").texts if t.replace(".", "").isdigit()]
    values = [float(t) for t in bars.labels]
    assert ticks == [0.0, 50.0, 100.0]  # the axis on the 0–100 scale of the bar labels and the caption
    assert max(values) <= max(ticks) and "(0–100 scale)" in frame.caption


def test_a_slide_too_short_for_its_table_keeps_the_rows_the_caption_cites(qapp):
    from detviewer.render.qt.slide import SlideText, table_fit

    rows = [(f"[{i}] value {i}", f"{i / 7:.2f}") for i in range(40)] + [("[40] P(star)", "1.00")]
    text = SlideText("t", caption="Its best class is star, P(star) = 1.00; value 3 is the first.", table=rows)
    shown, left_out = table_fit(text, (320, 320))
    assert left_out > 0 and len(shown) + left_out == len(rows)  # 41 rows do not fit beside the figure
    assert "[40] P(star)" in shown and "[3] value 3" in shown  # cited: kept, though the last row
    assert shown == [key for key, _ in rows if key in shown]  # in the table's own order
    assert "[39] value 39" not in shown  # uncited rows from the end go first
