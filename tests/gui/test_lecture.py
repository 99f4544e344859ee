"""Lecture mode in the real window: panels hidden, step bar, keys step the current view, Esc leaves."""

from __future__ import annotations

from PySide6.QtCore import Qt
from views_helpers import demo_window, show_view


def test_lecture_keys_step_the_anchor_levels_and_nms(make_window, qtbot):
    window = demo_window(make_window, qtbot)
    window.actions_.show_gt.setChecked(False)  # without ground truth anchors are coloured per level
    show_view(qtbot, window, "anchors")
    window.actions_.lecture.trigger()  # F11
    assert window.lecture.active and window.lecture.bar.isVisible()
    assert not any(dock.isVisible() for dock in window.docks)
    assert window.canvas.style.line_scale > 1  # thick lines for the projector

    qtbot.keyClick(window, Qt.Key.Key_Home)
    frame = window.presenter.shown.frame
    assert frame.step == 0 and frame.step_label == "Level 1/4"
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.presenter.shown.frame.step == 1
    assert [layer.name for layer in window.canvas.layers] == ["anchors_L1"]
    qtbot.keyClick(window, Qt.Key.Key_Space)  # slides advance with Space, a presenter clicker sends PageDown
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.presenter.shown.frame.step == 3
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert window.presenter.shown.frame.step == 1
    assert window.lecture.bar.step.text() == "Step 2 of 5: Level 2/4"  # 4 levels, then all together
    assert window.lecture.bar.caption.text() == window.presenter.shown.frame.caption

    # The NMS view steps the NMS replay, with the same keys.
    window.state.set_view("nms")
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.state.step_position()[0] == 2
    assert window.lecture.bar.step.text().startswith("NMS step 2 of")
    assert window.lecture.bar.caption.text().startswith("Step 2: keep")

    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.lecture.active and not window.lecture.bar.isVisible()
    assert window.canvas.style.line_scale == 1
    assert any(dock.isVisible() for dock in window.docks)
