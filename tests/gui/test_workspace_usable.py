"""The workspace and the window, usable (issue 21): a groove click seeks, Open dataset takes folders, names elide
in the middle, Export tables writes every tab (naming its runs, CSV-injection safe), the charts get room."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest


def _write_video(path, frames: int = 100):
    """Frame k is grey 2 k (MJPG keeps flat grey within a level or two)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for k in range(frames):
        writer.write(np.full((48, 64, 3), 2 * k, np.uint8))
    writer.release()
    return path


def test_a_click_on_the_seek_groove_shows_that_frame(make_window, qtbot, tmp_path):
    window = make_window()
    window.open_paths([str(_write_video(tmp_path / "clip.avi"))])
    slider = window.video_bar.slider
    qtbot.waitUntil(lambda: window.video_bar.isVisible() and slider.maximum() == 99, timeout=10000)
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=10000)

    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(int(slider.width() * 0.75), slider.height() // 2))

    target = slider.value()
    assert 65 <= target <= 85, "the handle jumps to the click, not one page step"
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.index == target, timeout=10000)
    assert window.feed.index == target
    assert abs(float(window.state.frame.image.mean()) - 2 * target) <= 3  # that frame's pixels, not frame 0's
    assert window.video_bar.label.text().startswith(f"{target + 1} /")
