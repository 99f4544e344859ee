"""The primitive items paint what their layers say: segments, arrow heads, text, heatmaps, huge box sets."""

from __future__ import annotations

import numpy as np
from views_helpers import near, to_array

from detviewer.render.model.primitives import BoxLayer, HeatmapLayer, SegmentLayer, TextLayer, solid


def test_export_paints_segments_text_and_heatmap_where_they_are(qapp):
    from detviewer.render.qt.export import render_image

    image = np.zeros((100, 200, 3), np.uint8)
    layers = [
        HeatmapLayer("heat", [100, 10, 180, 90], np.array([[0.0, 1.0], [1.0, 0.0]]), "viridis", alpha=255),
        SegmentLayer("line", [[10, 50, 90, 50]], solid((255, 0, 0), 1), width=3.0, arrow_heads=True),
        TextLayer("text", [[10, 5]], ("hello",), solid((255, 255, 255), 1), size=14.0),
    ]
    pixels = to_array(render_image(image, layers, scale=2.0))
    assert near(pixels, 100, 100, (255, 0, 0), radius=1)  # the segment's middle, (50, 50) at scale 2
    assert not near(pixels, 80, 100, (255, 0, 0), radius=3)  # nothing 10 px above it
    # Heatmap: 2x2 cells over x 100..180, y 10..90; top-left cell value 0 -> viridis' first colour.
    assert near(pixels, 2 * 30, 2 * 120, (68, 1, 84), radius=0, tol=6)
    assert near(pixels, 2 * 30, 2 * 160, (253, 231, 37), radius=0, tol=6)
    # Arrow head: a filled triangle 15 screen px long with its tip at (90, 50) (x = 180 at scale 2);
    # 12 px before the tip it is about 11 px tall, much more than the 3 px line.
    column = pixels[:, 2 * 90 - 12]
    red = np.flatnonzero((column[:, 0] > 150) & (column[:, 1] < 100) & (column[:, 2] < 100))
    assert len(red) >= 8
    # Text: bright pixels inside its box at the top-left.
    assert (pixels[10:40, 20:80].max(axis=2) > 200).any()


def test_many_boxes_item_draws_a_sample_when_over_budget_and_everything_when_zoomed_in(qtbot):
    from PySide6.QtCore import QRectF

    from detviewer.gui.canvas import Canvas
    from detviewer.render.qt.many_boxes import ManyBoxesItem

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 600, (50000, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + 10], axis=1)
    layer = BoxLayer("many", boxes, solid((0, 255, 0), len(boxes)), np.arange(len(boxes)), width=1.0)
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    canvas.set_frame(np.zeros((640, 640, 3), np.uint8))
    canvas.set_layers([layer])
    item = canvas.item("many")
    assert isinstance(item, ManyBoxesItem)
    canvas.grab()
    assert item.visible == 50000 and 0 < item.drawn < 50000
    qtbot.waitUntil(lambda: bool(canvas.note_text()), timeout=2000)
    assert "random" in canvas.note_text()
    corner = BoxLayer("corner", np.array([[2, 2, 60, 60]], np.float32), solid((255, 255, 0), 1), np.zeros(1, np.int64),
                      labels=("a label in the top left corner",))
    canvas.set_layers([layer, corner], legend=(("many", (0, 255, 0)), ("low activation", (0, 0, 0))))
    canvas.grab()
    qtbot.waitUntil(lambda: bool(canvas.note_text()), timeout=2000)
    legend = QRectF(*canvas.legend_rect())
    note = QRectF(*canvas.note_rect())
    assert not legend.intersects(note), "the sampling note covers the legend"
    placement = canvas.place_labels()
    assert placement.texts, "the corner label found no room"
    assert not any(QRectF(*rect).intersects(note) for rect in placement.rects), "a label sits under the note"
    canvas.view.setRange(QRectF(100, 100, 60, 45), padding=0)
    canvas.grab()
    # Only the boxes overlapping the (snapped, grown) view are considered; all of those are drawn.
    inside = ((boxes[:, 2] >= 100) & (boxes[:, 0] <= 160) & (boxes[:, 3] >= 100) & (boxes[:, 1] <= 145)).sum()
    assert inside <= item.visible < 50000 and item.drawn == item.visible


def test_lecture_style_scales_a_text_layer_once_on_the_canvas(qtbot):
    """TextLayer sizes are scaled by the label pass alone: a 14 px title is 28 px in lecture mode, not 56."""
    from detviewer.gui.canvas import Canvas
    from detviewer.render.qt.style import LECTURE, LabelFonts

    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    canvas.set_frame(np.zeros((400, 400, 3), np.uint8))
    canvas.set_layers([TextLayer("title", [[200, 200]], ("RoIAlign 7×7",), solid((255, 255, 255), 1), size=14.0,
                                 anchor="center")])
    canvas.set_style(LECTURE)
    placement = canvas.place_labels()
    assert placement.texts == ("RoIAlign 7×7",)
    width, height = LabelFonts(LECTURE).measure("RoIAlign 7×7", 14.0)
    assert LabelFonts(LECTURE).font(14.0)[0].pixelSize() == 28
    assert abs(placement.rects[0, 3] - height) < 0.5 and abs(placement.rects[0, 2] - width) < 0.5


def test_a_huge_frame_shows_its_copy_zoomed_out_and_full_pixels_zoomed_in(qtbot):
    from PySide6.QtCore import QRectF

    from detviewer.gui.canvas import Canvas
    from detviewer.io.frames import Frame, with_display_copy

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (3000, 4500, 3), dtype=np.uint8)
    frame = with_display_copy(Frame(image, "big"))
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(900, 600)
    canvas.show()
    canvas.set_frame(frame.image, frame.display)
    canvas.grab()
    shown = canvas.frame_image
    assert shown.shown.shape == frame.display.shape and shown.region is None
    assert canvas.image_item.mapRectToParent(canvas.image_item.boundingRect()) == QRectF(0, 0, 4500, 3000)
    canvas.view.setRange(QRectF(1000, 500, 300, 200), padding=0)  # one copy pixel would cover ~7 screen pixels
    qtbot.waitUntil(lambda: shown.region is not None, timeout=2000)
    x0, y0, x1, y1 = shown.region
    assert x0 <= 1000 and y0 <= 500 and x1 >= 1300 and y1 >= 700 and (x1 - x0) * (y1 - y0) < 1_000_000
    np.testing.assert_array_equal(shown.shown, image[y0:y1, x0:x1])  # full resolution, where it belongs
    assert canvas.image_item.mapRectToParent(canvas.image_item.boundingRect()) == QRectF(x0, y0, x1 - x0, y1 - y0)
    canvas.fit()
    qtbot.waitUntil(lambda: shown.region is None, timeout=2000)
    assert shown.shown.shape == frame.display.shape
