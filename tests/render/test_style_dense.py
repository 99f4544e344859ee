"""Lecture style widens lines, except a layer of thousands of boxes (a level's anchors), which would become a sheet
covering the photo."""

from __future__ import annotations

import numpy as np

from detviewer.render.model.primitives import BoxLayer
from detviewer.render.qt.style import DENSE_BOXES, LECTURE, styled


def _layer(n: int) -> BoxLayer:
    boxes = np.tile(np.array([[0, 0, 8, 8]], np.float32), (n, 1))
    return BoxLayer("boxes", boxes, np.zeros((n, 3), np.uint8), np.arange(n, dtype=np.int64), width=1.0)


def test_lecture_style_doubles_a_few_boxes_lines_and_keeps_thousands_as_hairlines():
    assert styled(_layer(10), LECTURE).width == 2.0
    assert styled(_layer(DENSE_BOXES), LECTURE).width == 2.0
    assert styled(_layer(DENSE_BOXES + 1), LECTURE).width == 1.0
