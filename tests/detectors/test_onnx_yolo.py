"""YOLO ONNX exports: layout and level detection by hand, letterbox geometry, and end-to-end runs of tiny
exported graphs whose predictions we placed in known cells."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx_fakes import export_yolo, prediction_index

from detviewer.detectors.onnx_yolo import cells_of, head_levels, output_layout
from detviewer.detectors.registry import load_detector, model_info
from detviewer.errors import CheckpointError, DetectorError
from detviewer.ops.nms import nms_trace

NAMES = {0: "cat", 1: "dog", 2: "bird"}


def test_output_layouts():
    assert output_layout((1, 84, 8400)) == ("v8", 80, 8400)
    assert output_layout((1, 25200, 85)) == ("v5", 80, 25200)
    assert output_layout((1, 84, 8400), 80) == ("v8", 80, 8400)
    assert output_layout((1, 25200, 85), 80) == ("v5", 80, 25200)
    with pytest.raises(DetectorError, match="transposed"):
        output_layout((1, 8400, 84), 80)
    with pytest.raises(DetectorError, match="does not hold 3 classes"):
        output_layout((1, 84, 8400), 3)
    with pytest.raises(DetectorError, match="shape"):
        output_layout((1, 300, 6, 2))


def test_head_levels_from_the_prediction_count():
    assert head_levels((640, 640), 8400, 1) == ((8, 80, 80), (16, 40, 40), (32, 20, 20))
    assert head_levels((640, 640), 25200, 3) == ((8, 80, 80), (16, 40, 40), (32, 20, 20))
    assert head_levels((640, 640), 8500, 1)[-1] == (64, 10, 10)  # P6 models: four levels
    assert head_levels((384, 640), 5040, 1) == ((8, 48, 80), (16, 24, 40), (32, 12, 20))
    with pytest.raises(DetectorError, match="do not fit"):
        head_levels((640, 640), 1000, 1)


def test_cells_of_prediction_indices():
    levels = ((8, 80, 80), (16, 40, 40), (32, 20, 20))
    # anchor-free: level 1 starts at 6400; row 7, column 12 of 40 columns
    assert [a.tolist() for a in cells_of([6400 + 7 * 40 + 12, 0, 8399], levels, 1)] == [
        [1, 0, 2], [12, 0, 19], [7, 0, 19], [-1, -1, -1]]
    # YOLOv5: level 1 starts at 3 * 6400; anchor 2 of that level, then the cell
    index = 19200 + 2 * 1600 + 7 * 40 + 12
    assert [int(a[0]) for a in cells_of([index], levels, 3)] == [1, 12, 7, 2]


@pytest.mark.parametrize("layout", ["v8", "v5"])
def test_exported_model_runs_end_to_end(tmp_path, layout):
    anchors = 3 if layout == "v5" else 1
    hw = (320, 320)
    best = prediction_index(hw, 1, col=12, row=7, anchor=anchors - 1, anchors=anchors)
    dup = prediction_index(hw, 1, col=13, row=7, anchors=anchors)
    other = prediction_index(hw, 0, col=3, row=30, anchors=anchors)
    preds = [(best, (200, 120, 64, 48), 1, 0.9), (dup, (204, 120, 64, 48), 1, 0.6),
             (other, (28, 244, 16, 16), 2, 0.4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_yolo(tmp_path / f"tiny-{layout}.onnx", layout, preds, names=NAMES, input_hw=hw)
    detector = load_detector("yolo-onnx", weights=str(path), device="auto")  # no CUDA provider here: the CPU
    assert detector.device == "cpu"
    assert detector.class_names == ("cat", "dog", "bird") and detector.levels == ((8, 40, 40), (16, 20, 20), (32, 10, 10))
    assert detector.nms.iou_threshold == (0.45 if layout == "v5" else 0.7)  # each family's own default
    image = np.zeros((240, 320, 3), np.uint8)  # letterboxed with 40 px above and below
    inf = detector.infer(image)
    det = inf.detections
    assert det.labels.tolist() == [1, 2] and det.name_of(det.labels[0]) == "dog"
    np.testing.assert_allclose(det.scores, [0.9, 0.4], rtol=1e-6)
    np.testing.assert_allclose(det.xyxy[0], [168, 56, 232, 104])  # (200 ± 32, 120 − 40 ± 24)
    # the duplicate is a candidate, suppressed by the model's NMS; a replay gives the same result
    assert len(inf.candidates) == 3
    trace = nms_trace(inf.candidates.xyxy, inf.candidates.scores, inf.candidates.labels,
                      iou_threshold=inf.nms.iou_threshold, score_threshold=inf.nms.score_threshold)
    np.testing.assert_array_equal(inf.candidates.xyxy[trace.keep], det.xyxy)
    cells = inf.yolo_cells
    first = cells.kept[0]
    assert (cells.level[first], cells.col[first], cells.row[first]) == (1, 12, 7)
    assert cells.anchor[first] == (anchors - 1 if layout == "v5" else -1)
    second = cells.kept[1]
    assert (cells.level[second], cells.col[second], cells.row[second]) == (0, 3, 30)
    np.testing.assert_allclose(cells.cell_rect(1, 12, 7), [192, 72, 208, 88])  # input 192..208, 112..128 − 40
    assert cells.prediction_count == (1600 + 400 + 100) * anchors


def test_names_without_metadata_and_model_given_as_a_path(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_yolo(tmp_path / "plain.onnx", "v8", [], num_classes=2)
    assert model_info(str(path)).name == "yolo-onnx"
    detector = load_detector(str(path), device="cpu")
    assert detector.class_names == ("class 0", "class 1")
    assert len(detector.infer(np.zeros((100, 100, 3), np.uint8)).detections) == 0


def test_bad_files_are_one_sentence(tmp_path):
    with pytest.raises(DetectorError, match="pass it as the weights"):
        load_detector("yolo-onnx", device="cpu")
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        load_detector(str(tmp_path / "missing.onnx"), device="cpu")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    with pytest.raises(CheckpointError, match="not a model onnxruntime can open"):
        load_detector(str(junk), device="cpu")


def test_cuda_without_a_cuda_onnxruntime_is_a_sentence(tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_yolo(tmp_path / "m.onnx", "v8", [])
    with pytest.raises(DetectorError, match="no CUDA support; install onnxruntime-gpu"):
        load_detector(str(path), device="cuda")
    with pytest.raises(DetectorError, match="Unknown device 'tpu'"):
        load_detector(str(path), device="tpu")


def test_onnxruntime_gets_torchs_thread_count():
    from pathlib import Path

    import torch

    from detviewer.detectors.onnx_yolo import load_onnx_yolo
    from detviewer.detectors.threads import configure_torch_threads

    before = torch.get_num_threads()
    try:
        assert configure_torch_threads(1) == 1
        detector = load_onnx_yolo(Path(__file__).parent.parent / "data" / "shapes_yolov8n_160.onnx")
        assert detector.session.get_session_options().intra_op_num_threads == 1
    finally:
        torch.set_num_threads(before)


def test_nms_kernel_is_torchvisions():
    import torch
    from torchvision.ops import nms

    from detviewer.detectors.onnx_yolo import _torchvision_nms

    rng = np.random.default_rng(3)
    for _ in range(20):
        corner = rng.uniform(0, 100, (400, 2)).astype(np.float32)
        boxes = np.concatenate([corner, corner + rng.uniform(1, 40, (400, 2)).astype(np.float32)], 1)
        scores = rng.choice(np.round(rng.random(30), 2), 400).astype(np.float32)  # ties
        b, s = torch.from_numpy(boxes), torch.from_numpy(scores)
        assert _torchvision_nms()(b, s, 0.5).tolist() == nms(b, s, 0.5).tolist()


def test_yolo_nms_does_not_import_the_torchvision_package():
    """Importing torchvision (models, torch._dynamo) costs ~2 s of CPU, most of an eval of a small export."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from detviewer.core.types import NMSParams\n"
            "from detviewer.detectors.onnx_yolo import yolo_nms\n"
            "boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)\n"
            "keep = yolo_nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), np.zeros(3, np.int64),\n"
            "                NMSParams(iou_threshold=0.5, score_threshold=0.25, class_agnostic=False))\n"
            "print(keep.tolist(), 'torchvision' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[0,", "2]", "False"]
