"""File → Export view / Export NMS steps from the real window: files written, boxes where expected."""

from __future__ import annotations

import numpy as np
from PIL import Image
from views_helpers import demo_window, near

from detviewer.render.model.colors import HIGHLIGHT, class_colors


def test_export_view_png_and_svg_show_the_kept_boxes(make_window, qtbot, tmp_path):
    from detviewer.gui.export_dialogs import export_view, figure_scale

    window = demo_window(make_window, qtbot)
    session = window.session
    kept = session.kept()
    assert len(kept)
    image = window.feed.current_frame.image
    scale = figure_scale(image)
    assert scale * max(image.shape[:2]) >= 960
    png = export_view(window, tmp_path / "view.png")
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[:2] == (image.shape[0] * scale, image.shape[1] * scale)
    cand = session.candidates
    hits = 0
    for i in kept[:5]:
        x1, y1, x2, y2 = cand.xyxy[i] * scale
        colour = class_colors(cand.labels[[i]])[0]
        # Middle of the left edge of each kept box is drawn in its class colour (fill is faint).
        hits += near(pixels, int(round((y1 + y2) / 2)), int(round(x1)), colour, radius=2, tol=60)
    assert hits >= min(len(kept), 5) - 1  # a neighbour's label may cover one edge

    svg = export_view(window, tmp_path / "view.svg").read_text()
    assert "<svg" in svg and svg.count("<path") >= 1

    window.views_panel.set_view("anchors")
    window.views_panel.level.setValue(3)
    svg = export_view(window, tmp_path / "anchors.svg").read_text()
    assert "<path" in svg


def test_export_nms_steps_writes_numbered_pngs_and_a_gif(make_window, qtbot, tmp_path):
    from detviewer.gui.export_dialogs import export_nms_steps

    window = demo_window(make_window, qtbot)
    session = window.session
    before = session.step
    paths = export_nms_steps(window, tmp_path, scale=2.0)
    assert session.step == before  # the window's stepper did not move
    pngs = [p for p in paths if p.suffix == ".png"]
    assert [p.name for p in pngs] == [f"nms_step_{k:03d}.png" for k in range(session.step_count + 1)]
    gif = Image.open(tmp_path / "nms_steps.gif")
    assert gif.n_frames == len(pngs)
    # Step 1 highlights the first kept box (the best-scoring candidate) in HIGHLIGHT yellow.
    first = session.trace.steps[0].kept
    x1, y1, x2, y2 = session.candidates.xyxy[first] * 2.0
    pixels = np.asarray(Image.open(pngs[1]).convert("RGB"))
    assert near(pixels, int(round((y1 + y2) / 2)), int(round(x2)), HIGHLIGHT, radius=3, tol=60)
