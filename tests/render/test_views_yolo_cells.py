"""The YOLO levels-and-cells view on a tiny exported ONNX model with predictions in known cells."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
from onnx_fakes import export_yolo, prediction_index  # noqa: E402

from detviewer.core.types import Detections, Inference  # noqa: E402
from detviewer.render.model.registry import VIEWS, ViewError  # noqa: E402
from detviewer.render.model.views.yolo_cells import YoloCellsViewState, level_grid_segments, yolo_cells_frame  # noqa: E402


@pytest.fixture(scope="module")
def inference(tmp_path_factory):
    from detviewer.detectors.registry import load_detector

    hw = (320, 320)
    preds = [(prediction_index(hw, 1, 12, 7), (200, 120, 64, 48), 1, 0.9),
             (prediction_index(hw, 2, 2, 8), (80, 270, 120, 90), 0, 0.8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_yolo(tmp_path_factory.mktemp("onnx") / "m.onnx", "v8", preds, names={0: "cat", 1: "dog", 2: "x"})
    return load_detector(str(path), device="cpu").infer(np.zeros((240, 320, 3), np.uint8))


def test_overview_colours_detections_by_level(inference):
    frame = yolo_cells_frame(inference, YoloCellsViewState())
    assert (frame.step, frame.step_count) == (0, 3)
    layer = frame.layer("detections_by_level")
    assert layer.labels == ("dog 0.90 · s16", "cat 0.80 · s32")
    assert not np.array_equal(layer.colors[0], layer.colors[1])
    assert dict(frame.table)["stride 8"] == "40×40 cells × 1 = 1,600"
    assert dict(frame.table)["Predictions"] == "2,100"
    assert "40×40 + 20×20 + 10×10 cells, one box per cell (anchor-free): 2,100 predictions" in frame.caption
    assert "1 from stride 16, 1 from stride 32" in frame.caption


def test_a_detection_step_fills_its_cell_and_draws_its_level_grid(inference):
    frame = yolo_cells_frame(inference, YoloCellsViewState(step=1))
    assert frame.step_label == "dog · stride 16"
    np.testing.assert_allclose(frame.layer("predicting_cell").xyxy, [[192, 72, 208, 88]])
    grid = frame.layer("level_grid").segments
    # stride 16 over a 320×240 frame letterboxed by 40 px: 21 vertical lines; horizontal ones at input
    # y = 48, 64, …, 272 (those inside the frame), i.e. 8 … 232 in the frame: 15
    vertical = grid[grid[:, 0] == grid[:, 2]]
    horizontal = grid[grid[:, 1] == grid[:, 3]]
    assert len(vertical) == 21 and len(horizontal) == 15
    assert horizontal[:, 1].min() == 8 and horizontal[:, 1].max() == 232
    assert "cell (column 12, row 7) of the stride-16 map (20×20 cells)" in frame.caption
    # choosing the detection by index gives the same frame as its lecture step
    again = yolo_cells_frame(inference, YoloCellsViewState(detection=1))
    assert again.step == 2 and again.step_label == "cat · stride 32"


def test_grid_segments_helper_matches_the_levels(inference):
    segs = level_grid_segments(inference.yolo_cells, 2, inference.image_size)
    assert len(segs) == 11 + 7  # stride 32: x 0..320 (11 lines); y input 64..256 inside the frame (7)


def test_other_models_get_a_sentence():
    plain = Inference("demo-ssd", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="exported to ONNX"):
        yolo_cells_frame(plain, YoloCellsViewState())
    assert VIEWS["yolo-cells"].needs == "yolo_cells"
