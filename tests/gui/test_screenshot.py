"""Render the window offscreen and look at pixels where a box must (and must not) be drawn."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fakes import write_image
from PySide6.QtCore import QPoint

from detviewer.render.model.colors import PALETTE

DOG = tuple(int(v) for v in PALETTE[2])  # label 2 in the fake detector's class list
GREY = 60  # the test image's value


def grab_rgb(window) -> np.ndarray:
    image = window.grab().toImage().convertToFormat(window.grab().toImage().Format.Format_RGB888)
    w, h = image.width(), image.height()
    buffer = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return buffer.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


def window_point(window, x: float, y: float) -> tuple[int, int]:
    """Window pixel (col, row) of image point (x, y); grab() is in device pixels."""
    p = window.canvas.image_to_widget(x, y)
    q = window.canvas.mapTo(window, QPoint(round(p.x()), round(p.y())))
    ratio = window.devicePixelRatioF()
    return round(q.x() * ratio), round(q.y() * ratio)


def near(pixels: np.ndarray, col: int, row: int, radius: int = 2) -> np.ndarray:
    return pixels[row - radius: row + radius + 1, col - radius: col + radius + 1].reshape(-1, 3).astype(int)


def test_box_edge_has_the_class_colour_and_background_is_untouched(qtbot, make_window, tmp_path):
    window = make_window()
    window.state.set_thresholds(score=0.2, iou=0.5)
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        window.open_paths([write_image(tmp_path / "grey.png", GREY)])
    pixels = grab_rgb(window)
    # Left edge of the dog box D = [200, 50, 300, 150], half way down.
    col, row = window_point(window, 200, 110)
    distance = np.abs(near(pixels, col, row) - np.array(DOG)).sum(axis=1)
    assert distance.min() < 40, f"no dog-coloured pixel near ({col}, {row}): {near(pixels, col, row)[:5]}"
    # Far from every box the frame is shown unchanged.
    col, row = window_point(window, 170, 220)
    assert np.abs(near(pixels, col, row) - GREY).max() <= 2
    # After moving the score slider above the dog's 0.6 the box disappears from the pixels.
    window.thresholds_panel.score_slider.setValue(0.65)
    pixels = grab_rgb(window)
    col, row = window_point(window, 200, 110)
    distance = np.abs(near(pixels, col, row) - np.array(DOG)).sum(axis=1)
    assert distance.min() > 60


@pytest.mark.slow
def test_screenshot_command_saves_the_window(tmp_path, qapp, monkeypatch):
    """``detviewer IMAGE --model ssdlite320_mobilenet_v3_large --weights none --screenshot OUT`` (real model)."""
    from detviewer.cli import main

    out = tmp_path / "shot.png"
    image = write_image(tmp_path / "in.png", 90, size=(200, 260))
    rc = main([image, "--model", "ssdlite320_mobilenet_v3_large", "--weights", "none", "--device", "cpu",
               "--screenshot", str(out), "--settings", str(tmp_path / "s.ini"), "--size", "1000x700"])
    assert rc == 0
    from PySide6.QtGui import QImage

    shot = QImage(str(out))
    assert shot.width() >= 1000 and shot.height() >= 700
