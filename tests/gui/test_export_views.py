"""File → Export view / Export NMS steps from the real window: files written, boxes where expected."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from views_helpers import demo_window, near, show_view

from detviewer.render.model.colors import HIGHLIGHT, class_colors
from detviewer.render.qt.export import figure_layout, figure_scale


def test_export_view_png_and_svg_show_the_kept_boxes(make_window, qtbot, tmp_path):
    window = demo_window(make_window, qtbot)
    replay = window.state.replay
    kept = replay.keep
    assert len(kept)
    image = window.state.frame.image
    scale = figure_scale(image)
    assert scale * max(image.shape[:2]) == 1920
    png = export_and_wait(qtbot, window, tmp_path / "view.png")
    pixels = np.asarray(Image.open(png).convert("RGB"))
    frame = window.presenter.shown.frame
    layout = figure_layout(image, scale, window.canvas.style, "title", frame.caption)
    band = layout.title_band  # the title line above the figure, the caption under it
    assert layout.caption_band > 0
    assert pixels.shape[:2] == (round(image.shape[0] * scale) + band + layout.caption_band,
                                round(image.shape[1] * scale))
    pixels = pixels[band:]
    cand = replay.candidates
    hits = 0
    for i in kept[:5]:
        x1, y1, x2, y2 = cand.xyxy[i] * scale
        colour = class_colors(cand.labels[[i]])[0]
        # Middle of the left edge of each kept box is drawn in its class colour (fill is faint).
        hits += near(pixels, int(round((y1 + y2) / 2)), int(round(x1)), colour, radius=2, tol=60)
    assert hits >= min(len(kept), 5) - 1  # a neighbour's label may cover one edge

    svg = export_and_wait(qtbot, window, tmp_path / "view.svg").read_text()
    assert "<svg" in svg and svg.count("<path") >= 1

    show_view(qtbot, window, "anchors")
    window.state.set_step(3)
    svg = export_and_wait(qtbot, window, tmp_path / "anchors.svg").read_text()
    assert "<path" in svg


def export_and_wait(qtbot, window, path):
    """File → Export view, written by the task runner; the path once it is written."""

    done = []
    window.exporter.export_view(path, on_done=lambda out, error: done.append((out, error)))
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    out, error = done[0]
    assert not error, error
    return out


def test_export_nms_steps_writes_numbered_pngs_and_a_gif_in_the_background(make_window, qtbot, tmp_path):

    window = demo_window(make_window, qtbot)
    replay = window.state.replay
    before = window.state.step_position("nms")
    progress = window.exporter.export_nms_dialog(str(tmp_path))
    qtbot.waitUntil(lambda: any("Exported" in m.text for m in window.messages.messages), timeout=30000)
    assert window.state.step_position("nms") == before  # the window's stepper did not move
    pngs = sorted(tmp_path.glob("nms_step_*.png"))
    assert [p.name for p in pngs] == [f"nms_step_{k:03d}.png" for k in range(replay.step_count + 1)]
    gif = Image.open(tmp_path / "nms_steps.gif")
    assert gif.n_frames == len(pngs)
    assert progress is not None and not progress.isVisible()
    # Step 1 highlights the first kept box (the best-scoring candidate) in HIGHLIGHT yellow.
    scale = figure_scale(window.state.frame.image)
    first = int(replay.kept[0])
    x1, y1, x2, y2 = replay.candidates.xyxy[first] * scale
    image = window.state.frame.image
    pixels = np.asarray(Image.open(pngs[1]).convert("RGB"))[figure_layout(image, scale, window.canvas.style,
                                                                          "title").title_band:]
    assert near(pixels, int(round((y1 + y2) / 2)), int(round(x2)), HIGHLIGHT, radius=3, tol=60)


def test_exporting_nms_steps_shows_progress_in_the_status_bar_and_cancel_stops_it(make_window, qtbot, tmp_path):
    """The export does not block the window (no modal dialog): the status bar shows its progress, and Cancel
    ends it with a sentence and without the "Exported" message."""

    window = demo_window(make_window, qtbot)
    progress = window.exporter.export_nms_dialog(str(tmp_path))
    assert progress is window.status.task_progress and progress.running
    assert not progress.isVisible()  # shown only once the export has run a moment: no flash for a quick one
    assert window.isEnabled() and QApplication.activeModalWidget() is None
    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    assert not progress.running
    assert "Cancelled the export" in window.messages.messages[-1].text
    qtbot.wait(600)  # the task stops before its next step; the delayed show finds it finished
    assert not progress.isVisible()
    assert not any("Exported" in m.text for m in window.messages.messages)
    assert not list(tmp_path.glob("nms_steps.gif"))
    assert window.exporter.export_nms_dialog(str(tmp_path)) is progress  # a new export can start
    qtbot.waitUntil(lambda: any("Exported" in m.text for m in window.messages.messages), timeout=30000)
