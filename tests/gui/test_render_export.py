"""Offscreen export draws the same layers as the canvas; pixels checked where boxes must be."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.core.types import Detections, Inference
from detviewer.errors import DetviewerError
from detviewer.ops.nms import nms_trace
from detviewer.render.model.colors import PALETTE
from detviewer.render.model.nms_layers import nms_layers
from detviewer.render.qt.export import export_figure, render_image
from detviewer.state.nms_replay import Thresholds, replay


def to_array(qimage) -> np.ndarray:
    from PySide6.QtGui import QImage

    qimage = qimage.convertToFormat(QImage.Format.Format_RGB888)
    buf = np.frombuffer(qimage.constBits(), np.uint8, count=qimage.sizeInBytes())
    return buf.reshape(qimage.height(), qimage.bytesPerLine())[:, : qimage.width() * 3].reshape(
        qimage.height(), qimage.width(), 3)


def one_box_layers() -> list:
    boxes = np.array([[20, 30, 80, 70]], np.float32)
    det = Detections(boxes, np.array([0.9], np.float32), np.array([3], np.int64), ("bg", "a", "b", "car"))
    result = replay(Inference("fake", (100, 120), det, det), Thresholds(score=0.5), nms_trace)
    return nms_layers(result, result.step_count, stepping=False)


def test_png_export_draws_the_box_in_its_class_colour(qapp, tmp_path):
    image = np.full((100, 120, 3), 40, np.uint8)
    layers = one_box_layers()
    pixels = to_array(render_image(image, layers, scale=2.0))
    assert pixels.shape == (200, 240, 3)
    car = PALETTE[3].astype(int)
    # Left edge x = 20 -> 40 at scale 2, half way down (y = 50 -> 100); the 2-px pen straddles it.
    edge = pixels[100, 38:43].astype(int)
    assert np.abs(edge - car).sum(axis=1).min() < 30
    assert np.abs(pixels[190, 5].astype(int) - 40).max() <= 1  # untouched background
    out = export_figure(image, layers, tmp_path / "fig.png")
    assert out.stat().st_size > 0


def test_svg_export_and_bad_names(qapp, tmp_path):
    image = np.zeros((100, 120, 3), np.uint8)  # room for the label: labels stay inside the figure
    layers = one_box_layers()
    text = export_figure(image, layers, tmp_path / "fig.svg").read_text()
    assert "<svg" in text and "car 0.90" in text
    with pytest.raises(DetviewerError, match="fig.gif"):
        export_figure(image, layers, tmp_path / "fig.gif")
    with pytest.raises(DetviewerError, match="does not exist"):
        export_figure(image, layers, tmp_path / "no" / "fig.png")


def test_canvas_draws_extra_named_layers_below_the_nms_layers(qtbot):
    from detviewer.gui.canvas import Canvas
    from detviewer.render.model.primitives import BoxLayer

    canvas = Canvas()
    qtbot.addWidget(canvas)
    gt = BoxLayer("ground_truth", np.array([[0, 0, 10, 10]], np.float32), np.zeros((1, 3), np.uint8),
                  np.array([0]))
    kept = BoxLayer("kept", np.array([[2, 2, 5, 5]], np.float32), np.zeros((1, 3), np.uint8), np.array([7]))
    canvas.set_layers([kept, gt])
    assert [layer.name for layer in canvas.layers] == ["ground_truth", "kept"]
    assert canvas.box_at(3, 3) == 7  # topmost layer first
    assert canvas.box_at(8, 8) is None  # ground truth boxes are no candidates: no hover text, no selection
    other = BoxLayer("proposals", np.array([[0, 0, 10, 10]], np.float32), np.zeros((1, 3), np.uint8), np.array([4]))
    canvas.set_layers([kept, other])
    assert canvas.box_at(8, 8) == 4 and canvas.box_at(3, 3) == 7
    canvas.set_layers([kept])
    assert canvas.item("ground_truth").layer is None


def test_image_layers_paint_their_pictures_into_their_rects():
    from views_helpers import to_array

    from detviewer.render.model.primitives import ImageLayer
    from detviewer.render.qt.export import render_image

    tile = np.zeros((2, 8, 8, 3), np.uint8)
    tile[0, ..., 0] = 255  # red
    tile[1, ..., 2] = 255  # blue
    layer = ImageLayer("crops", tile, [[10, 10, 30, 30], [40, 10, 60, 50]], [(0, 255, 0), (0, 255, 0)], width=0)
    pixels = to_array(render_image(np.zeros((60, 80, 3), np.uint8), [layer], scale=2.0))
    assert (pixels[25:55, 25:55] == (255, 0, 0)).all()  # the first, stretched x2 with the figure
    assert (pixels[25:95, 85:115] == (0, 0, 255)).all()  # the second, stretched to 20 x 40
    assert (pixels[5:15, 5:15] == 0).all() and (pixels[105:, :] == 0).all()
