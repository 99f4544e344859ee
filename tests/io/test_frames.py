"""The shrunk copy a huge photo is shown with while zoomed out."""

from __future__ import annotations

import numpy as np

from detviewer.io.frames import DISPLAY_MAX_SIDE, Frame, with_display_copy


def test_a_huge_frame_gets_an_area_averaged_copy_and_a_small_one_none():
    image = np.zeros((3000, 4500, 3), np.uint8)
    image[:, 2250:] = 200  # right half bright
    image[::2, :2250] = 100  # left half: alternate rows 100 / 0, area-averaged to 50
    frame = with_display_copy(Frame(image, "big.jpg"))
    assert frame.image is image and frame.display.shape == (1365, DISPLAY_MAX_SIDE, 3)
    assert 30 <= int(frame.display[600, 300, 0]) <= 70  # averaged rows of 100 and 0, not one of them
    assert frame.display[600, 1800, 0] == 200
    small = Frame(np.zeros((480, 640, 3), np.uint8), "cam")
    assert with_display_copy(small) is small and small.display is None
