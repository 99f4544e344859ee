"""Exports that output only final detections (nms=True, end-to-end heads) and dynamic-shape exports, on tiny
exported graphs whose outputs we chose (onnx_fakes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx_fakes import export_final, export_pooled_dynamic

from detviewer.detectors.registry import load_detector
from detviewer.detectors.torchvision_models import load_untrained
from detviewer.errors import DetectorError

NAMES = {0: "cat", 1: "dog", 2: "bird"}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# (x1, y1, x2, y2, score, class) in the 320 x 320 input, best first
FINAL_ROWS = [(60, 80, 124, 120, 0.9, 1), (0, 30, 40, 70, 0.6, 2), (200, 200, 230, 230, 0.2, 0)]


@pytest.mark.parametrize("kind, metadata", [
    ("nms", {"args": {"nms": True, "dynamic": False}}),
    ("end2end", {"args": {"nms": False}, "end2end": True}),
    ("final", {}),  # no metadata: (1, 300, 6) that fits no YOLO head is read as final rows
])
def test_final_only_exports_load_and_map_their_rows_back(tmp_path, kind, metadata):
    path = _quiet(export_final, tmp_path / f"{kind}.onnx", FINAL_ROWS, metadata={**metadata, "names": NAMES})
    detector = load_detector(str(path), device="cpu")
    assert detector.capabilities == frozenset() and "yolo_cells" not in detector.capabilities
    assert detector.final_only_reason.endswith(".") and "300" in detector.final_only_reason
    assert ("nms=True" in detector.final_only_reason) == (kind == "nms")
    assert ("end-to-end" in detector.final_only_reason) == (kind == "end2end")
    assert detector.class_names == ("cat", "dog", "bird")
    # 240 x 320 image: no resize, 40 rows of padding above -> y - 40, clipped to the frame
    inf = detector.infer(np.zeros((240, 320, 3), np.uint8))
    det = inf.detections
    assert det.labels.tolist() == [1, 2]  # the 0.2 row is under predict's 0.25
    np.testing.assert_allclose(det.scores, [0.9, 0.6], rtol=1e-6)
    np.testing.assert_allclose(det.xyxy, [[60, 40, 124, 80], [0, 0, 40, 30]])
    assert inf.candidates is det and inf.yolo_cells is None
    assert inf.input_size == (320, 320) and inf.scale == (1.0, 1.0)


def test_a_final_export_with_no_detection_gives_empty_results(tmp_path):
    path = _quiet(export_final, tmp_path / "empty.onnx", [], metadata={"args": {"nms": True}})
    inf = load_detector(str(path), device="cpu").infer(np.zeros((50, 90, 3), np.uint8))
    assert len(inf.detections) == 0 and len(inf.candidates) == 0


def test_other_detectors_are_not_final_only():
    detector = load_untrained("ssdlite320_mobilenet_v3_large", "cpu")
    assert detector.final_only_reason == ""


def test_dynamic_export_gets_the_smallest_stride_multiple_rectangle(tmp_path):
    path = _quiet(export_pooled_dynamic, tmp_path / "dynamic.onnx", names=NAMES)
    detector = load_detector(str(path), device="cpu")
    assert detector.export.dynamic and detector.input_hw == (320, 320)
    # 100 x 200 -> ratio 1.6: 160 x 320, no padding needed (160 is a multiple of 32)
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:80, 100:140] = (255, 0, 0)  # -> input rows 64..128, cols 160..224
    inf = detector.infer(image)
    assert inf.input_size == (160, 320) and inf.scale == (1.6, 1.6)
    cells = inf.yolo_cells
    assert cells.levels == ((8, 20, 40), (16, 10, 20), (32, 5, 10))
    det = inf.detections
    assert len(det) > 0 and set(det.labels.tolist()) == {0}
    # each cell predicts its own square, so every detection maps back onto its cell's rectangle
    for i, k in enumerate(cells.kept):
        np.testing.assert_allclose(det.xyxy[i], cells.cell_rect(cells.level[k], cells.col[k], cells.row[k]), atol=1e-4)
    full = det.xyxy[det.scores > 0.999]  # cells wholly inside the square (its blurred edge scores less)
    assert len(full) and (full[:, :2] >= [100, 40]).all() and (full[:, 2:] <= [140, 80]).all()
    inside = (cells.level == 1) & (cells.col == 11) & (cells.row == 5)  # input 176..192 x 80..96
    assert inf.candidates.scores[inside].tolist() == [1.0]
    # a tall image gets a tall input: 200 x 90 -> ratio 1.6, 320 x 144 (144 = 4.5 strides -> padded to 160)
    assert detector.infer(np.zeros((200, 90, 3), np.uint8)).input_size == (320, 160)


def test_a_dynamic_export_that_cannot_run_is_one_sentence(tmp_path):
    path = _quiet(export_final, tmp_path / "bad.onnx", [], metadata={"names": "{0: 'a'"})  # broken names literal
    detector = load_detector(str(path), device="cpu")  # bad metadata is ignored, not fatal
    assert detector.class_names == ()
    with pytest.raises(DetectorError, match="needs an RGB image"):
        detector.infer(np.zeros((10, 10), np.uint8))
