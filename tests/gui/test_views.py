"""Teaching views in the real window (demo-frcnn on a shapes image): switching views, clicks, off-thread work."""

from __future__ import annotations

import numpy as np
from views_helpers import demo_window, show_view

from detviewer.render.model.primitives import BoxLayer


def _boxes(window, prefix: str) -> list[BoxLayer]:
    return [layer for layer in window.canvas.layers if isinstance(layer, BoxLayer) and layer.name.startswith(prefix)]


def test_views_follow_the_model_capabilities_and_draw_every_anchor(make_window, qtbot):
    window = demo_window(make_window, qtbot)
    window.actions_.show_gt.setChecked(False)  # without ground truth anchors are coloured per level
    inference = window.state.inference
    panel, state = window.views_panel, window.state
    # demo-frcnn has an RPN: anchors and proposals, but no SSD default boxes and no YOLO grid.
    assert panel.is_enabled("anchors") and panel.is_enabled("proposals") and panel.is_enabled("roi")
    assert not panel.is_enabled("default-boxes") and not panel.is_enabled("grid")

    panel.combo.setCurrentIndex(panel.combo.findData("anchors"))
    assert state.view == "anchors"
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=10000)  # anchors built off the GUI
    layers = _boxes(window, "anchors_L")
    assert len(layers) == len(inference.anchors) == 4
    # Every level at once: the anchors of 16 evenly spread cells per level (all 16,320 were a blue wash), every
    # anchor counted in the caption (16,320 for 320x320: 64², 32², 16², 8² cells x 3)
    assert sum(len(a) for a in inference.anchors) == 16320 and "= 16,320 anchors" in panel.caption.text()
    assert all(0 < len(layer) <= 16 * 3 for layer in layers)
    panel.slider.setValue(0)  # one level: every anchor the generator made is on the canvas
    # The biggest level goes to the level-of-detail item; drawing it reports what it drew.
    big = window.canvas.item("anchors_L0")
    assert type(big).__name__ == "ManyBoxesItem" and len(big.layer) == 12288

    panel.slider.setValue(2)  # the third level: the step is the level
    assert panel.position.text().startswith("Step 3 of 5: Level 3/4")
    layers = _boxes(window, "anchors_L")
    assert [layer.name for layer in layers] == ["anchors_L2"] and len(layers[0]) == len(inference.anchors[2]) == 768
    assert window.canvas.item("anchors_L0").layer is None  # the other levels are cleared

    state.set_view("proposals")
    panel.editor("proposals", "top_k").setValue(25)
    assert state.control("top_k") == 25
    shown = sum(len(layer) for layer in _boxes(window, "proposals") if layer.name == "proposals")
    assert shown == min(25, len(inference.proposals))
    assert "proposals" in panel.caption.text()

    state.set_view("detections")
    kept = next(layer for layer in window.canvas.layers if layer.name == "kept")
    assert len(kept) == len(state.replay.keep)


def test_a_click_selects_the_nearest_cell_on_every_level(make_window, qtbot):
    from PySide6.QtCore import Qt

    window = demo_window(make_window, qtbot)
    inference = window.state.inference
    show_view(qtbot, window, "anchors")
    x, y = 101.3, 67.9
    pos = window.canvas.image_to_widget(x, y).toPoint()
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    layer = next(layer for layer in window.canvas.layers if layer.name == "point_anchors")
    # Expected, computed from the raw anchors: on each level the anchors whose centre is nearest.
    expected, offset = [], 0
    for anchors in inference.anchors:
        centres = (anchors.boxes[:, :2] + anchors.boxes[:, 2:]) / 2
        d = np.hypot(centres[:, 0] - x, centres[:, 1] - y)
        expected += (np.flatnonzero(np.isclose(d, d.min(), atol=1e-3)) + offset).tolist()
        offset += len(anchors)
    # The clicked point is mapped back through the view transform: allow it to land a pixel off.
    assert sorted(layer.index.tolist()) == sorted(expected)
    assert len(layer) == 3 * len(inference.anchors)


def test_roi_pooling_and_selective_search_run_off_the_gui_thread(make_window, qtbot):
    window = demo_window(make_window, qtbot)
    panel = window.views_panel
    window.state.set_view("roi")
    # The slot returned at once, saying what it waits for; the pooling arrives from the worker and redraws.
    assert window.presenter.shown.frame is None and "Pooling" in panel.caption.text()
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=20000)
    names = [layer.name for layer in window.canvas.layers]
    assert "pooled_align" in names and "bins" in names and "proposal" in names
    heat = next(layer for layer in window.canvas.layers if layer.name == "pooled_align")
    assert heat.values.shape == (7, 7)

    window.state.set_view("selective-search")
    assert window.presenter.shown.frame is None  # started in the task runner, not computed in the slot
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=30000)
    boxes = next(layer for layer in window.canvas.layers if layer.name == "selective_search")
    assert 0 < len(boxes) <= window.state.control("top_k")
    assert "Selective Search" in panel.caption.text()

    # Step 2 of the view: R-CNN's crop-and-warp, the gallery's crops drawn over the frame and numbered.
    panel.forward.click()
    frame = window.presenter.shown.frame
    assert frame.step == 1 and frame.step_label == "Crop and warp"
    crops = next(layer for layer in window.canvas.layers if layer.name == "warped_crops")
    gallery = next(layer for layer in window.canvas.layers if layer.name == "gallery_boxes")
    assert crops.images.shape == (len(gallery), 227, 227, 3)
    assert window.canvas.item("warped_crops").layer is crops
    assert "stretched to 227×227" in panel.caption.text()
    assert panel.table.rowCount() == len(gallery)
