"""YOLO grid view on a hand-made 7×7 prediction (448 px image, 64 px cells) and on demo-yolo."""

import numpy as np
import pytest
import torch

from detviewer.core.types import Detections, GridPrediction, Inference
from detviewer.detectors.registry import load_detector
from detviewer.render.model.colors import class_colors
from detviewer.render.model.primitives import ViewError
from detviewer.render.model.views.grid import (
    GridViewState,
    grid_frame,
    grid_segments,
    grid_steps,
    object_cells,
    tensor_layout,
)

NAMES = ("__background__", "cat", "dog", "bird")


def hand_grid() -> Inference:
    s, b, c = 7, 2, 3
    boxes = np.zeros((s, s, b, 4), np.float32)
    boxes[..., 2:] = 1.0
    confidence = np.full((s, s, b), 0.1, np.float32)
    probs = np.tile(np.array([0.2, 0.5, 0.3], np.float32), (s, s, 1))
    raw = np.zeros((s, s, 5 * b + c), np.float32)
    # cell (row 0, col 4) = pixels x 256…320, y 0…64: box 1 centred at (304, 40), 64×96 px
    boxes[0, 4, 0] = (272, -8, 336, 88)
    boxes[0, 4, 1] = (200, 0, 400, 60)
    confidence[0, 4] = (0.9, 0.25)
    probs[0, 4] = (0.7, 0.2, 0.1)
    raw[0, 4] = np.arange(5 * b + c) / 10.0
    grid = GridPrediction(boxes, confidence, probs, raw, cell_size=(64.0, 64.0))
    dets = Detections(np.array([[280, 10, 330, 70]], np.float32), [0.63], [1], NAMES)
    return Inference("hand-yolo", (448, 448), dets, dets, grid=grid, input_size=(448, 448))


def test_grid_lines_every_64_px():
    segments = grid_segments(hand_grid().grid)
    assert len(segments) == 16
    vertical = segments[segments[:, 0] == segments[:, 2]]
    np.testing.assert_array_equal(np.sort(vertical[:, 0]), np.arange(8) * 64)
    assert (vertical[:, 3] == 448).all()


def test_the_cell_of_a_hand_placed_centre():
    inference = hand_grid()
    gt = (np.array([[290, 0, 310, 20], [0, 440, 20, 448]], np.float32), np.array([1, 2]))
    # centres (300, 10) -> row 0, col 4; (10, 444) -> row 6, col 0
    assert object_cells(inference, gt) == [(0, 4), (6, 0)]
    # without ground truth: the detection centre (305, 40) -> (0, 4)
    assert object_cells(inference) == [(0, 4)]
    assert grid_steps(inference, gt) == 3
    frame = grid_frame(inference, GridViewState(step=2), gt)
    assert frame.step_label == "Cell (7, 1)" and frame.step == 2 and frame.step_count == 3  # rows, columns from 1
    np.testing.assert_array_equal(frame.layer("selected_cell").xyxy, [[0, 384, 64, 448]])


def test_tensor_layout_of_the_selected_cell():
    inference = hand_grid()
    rows = dict(tensor_layout(inference, 0, 4))
    assert len(rows) == 5 * 2 + 3
    # box 1: centre (304, 40) -> 304/64 − 4 = 0.75 across, 40/64 = 0.625 down; 64/448 = 0.14 wide, 96/448 = 0.21 high
    assert rows["[0] box 1 x"] == "+0.00 → 0.75 across the cell"
    assert rows["[1] box 1 y"] == "+0.10 → 0.62 down the cell"
    assert rows["[2] box 1 w"] == "+0.20 → 0.14 of the image width"
    assert rows["[3] box 1 h"] == "+0.30 → 0.21 of the image height"
    assert rows["[4] box 1 conf"] == "+0.40 → 0.90 confidence"
    assert rows["[9] box 2 conf"] == "+0.90 → 0.25 confidence"
    assert rows["[10] P(cat)"] == "+1.00 → 0.70"
    assert rows["[12] P(bird)"] == "+1.20 → 0.10"


def test_selected_cell_shows_its_boxes_with_confidence():
    inference = hand_grid()
    frame = grid_frame(inference, GridViewState(point=(300, 10)))
    layer = frame.layer("cell_boxes")
    np.testing.assert_array_equal(layer.xyxy, inference.grid.boxes[0, 4])
    assert layer.labels == ("box 1: 0.90", "box 2: 0.25")
    assert "best class is cat, P(cat) = 0.70" in frame.caption


def test_class_maps():
    inference = hand_grid()
    argmax = grid_frame(inference, GridViewState(class_map="argmax")).layer("class_map")
    assert len(argmax) == 49
    best = np.ones(49, np.int64)  # every cell's best class is channel 1 (dog, label 2) …
    best[4] = 0  # … except cell (0, 4): cat
    np.testing.assert_array_equal(argmax.colors, class_colors(best + 1))
    heat = grid_frame(inference, GridViewState(class_map="probability", class_index=0)).layer("class_probability")
    assert heat.values.shape == (7, 7)
    assert heat.values[0, 4] == pytest.approx(0.7) and heat.values[3, 3] == pytest.approx(0.2)
    np.testing.assert_array_equal(heat.rect, [0, 0, 448, 448])


def test_overview_without_a_selection():
    frame = grid_frame(hand_grid())
    assert frame.step == 0 and frame.step_label == "Grid"
    assert "7×7 grid" in frame.caption and "7×7×(5·2 + 3) = 7×7×13, 98 boxes per image" in frame.caption
    assert "YOLOv1 on PASCAL VOC has the same S = 7 and B = 2 with C = 20: 7×7×30, the same 98 boxes." in frame.caption
    assert "selected_cell" not in frame.names()
    rows = dict(frame.table)
    assert rows["YOLOv1 (VOC)"] == "S = 7, B = 2, C = 20: 7×7×(5·2 + 20) = 7×7×30, 98 boxes, 448 px input"
    assert rows["This model"].startswith("S = 7, B = 2, C = 3: 7×7×(5·2 + 3) = 7×7×13, 7·7·2 = 98 boxes")


def test_demo_yolo_is_7x7x16_beside_yolov1s_7x7x30():
    import torch

    from detviewer.detectors.registry import load_detector

    torch.manual_seed(0)
    detector = load_detector("demo-yolo", weights="none", device="cpu")
    inference = detector.infer(np.zeros((224, 224, 3), np.uint8))
    assert inference.grid.raw.shape == (7, 7, 16)  # B = 2, C = 6 shapes
    rows = dict(grid_frame(inference).table)
    assert rows["This model"] == "S = 7, B = 2, C = 6: 7×7×(5·2 + 6) = 7×7×16, 7·7·2 = 98 boxes, 224 px input"


def test_demo_yolo_inference():
    torch.manual_seed(0)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    inference = load_detector("demo-yolo", weights="none", device="cpu").infer(image)
    gt = (np.array([[150, 100, 330, 220]], np.float32), np.array([3]))
    # centre (240, 160): 7 × 240 / 640 = 2.6 -> col 2; 7 × 160 / 480 = 2.3 -> row 2
    assert object_cells(inference, gt) == [(2, 2)]
    frame = grid_frame(inference, GridViewState(step=1), gt)
    np.testing.assert_array_equal(frame.layer("cell_boxes").xyxy, inference.grid.boxes[2, 2])
    rows = dict(frame.table)
    assert rows["[4] box 1 conf"].endswith(f"→ {inference.grid.confidence[2, 2, 0]:.2f} confidence")
    assert rows["[10] P(circle)"].endswith(f"→ {inference.grid.class_probs[2, 2, 0]:.2f}")
    assert len([k for k, _ in frame.table if k.startswith("[")]) == 5 * 2 + 6


def test_a_model_without_a_grid_is_refused():
    inference = Inference("demo-ssd", (10, 10), Detections.empty(), Detections.empty())
    with pytest.raises(ViewError, match="demo-ssd does not predict on a YOLO grid"):
        grid_frame(inference)
    with pytest.raises(ViewError, match="outside the 7×7 grid"):
        grid_frame(hand_grid(), GridViewState(cell=(7, 0)))
