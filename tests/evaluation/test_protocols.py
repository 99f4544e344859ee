"""Evaluation protocols: which one each framework gets, that a detector runs with its thresholds inside
``Detector.evaluating`` and gets its own back after, and that a dataset run is never limited by the display
threshold (predict's 0.25 for an ONNX export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from detviewer.detectors.base import EvaluationSettings
from detviewer.errors import DetviewerError
from detviewer.evaluation.protocols import PROTOCOLS, get_protocol, protocol_for

TESTS = Path(__file__).resolve().parents[1]


class _Fixed(torch.nn.Module):
    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out + 0.0 * images.mean()


def _export(path: Path, rows: np.ndarray, input_hw=(64, 64)) -> Path:
    """A YOLOv8-layout export whose output is ``rows`` (N, 4 + C) transposed; N must fit 64 x 64's levels."""
    import onnx

    model = _Fixed(torch.from_numpy(np.ascontiguousarray(rows.T[None])))
    torch.onnx.export(model, torch.zeros(1, 3, *input_hw), str(path), input_names=["images"],
                      output_names=["output0"], dynamo=False)
    proto = onnx.load(str(path))
    names = {i: f"c{i}" for i in range(rows.shape[1] - 4)}
    for key, value in (("names", repr(names)), ("imgsz", repr(list(input_hw))), ("stride", "32")):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


@pytest.fixture
def scored_export(tmp_path):
    """64 x 64 export (84 predictions), 3 classes: box 0 scores 0.9 for c0 and 0.4 for c1 (multi-label: two
    candidates); box 1 0.1 for c2 (below predict's 0.25, above val's 0.001); box 2 0.0005 for c0 (below both)."""
    rows = np.zeros((8 * 8 + 4 * 4 + 2 * 2, 7), np.float32)
    rows[:, :4] = (5, 5, 2, 2)
    rows[0, :4], rows[0, 4], rows[0, 5] = (20, 20, 16, 16), 0.9, 0.4
    rows[1, :4], rows[1, 6] = (45, 45, 12, 12), 0.1
    rows[2, :4], rows[2, 4] = (10, 50, 8, 8), 0.0005
    return _export(tmp_path / "scored.onnx", rows)


def test_each_framework_gets_its_own_protocol(scored_export):
    from detviewer.detectors.demo import load_demo_detector
    from detviewer.detectors.registry import load_detector

    onnx = load_detector(str(scored_export), device="cpu")
    assert protocol_for(onnx).name == "ultralytics-val"
    assert protocol_for(load_demo_detector("demo-ssd", "none")).name == "detviewer-demo"
    assert protocol_for(load_demo_detector("demo-yolo", "none")).name == "detviewer-demo"
    from detviewer.detectors.torchvision_adapter import TorchvisionDetector

    tv = TorchvisionDetector(load_demo_detector("demo-ssd", "none").model, name="ssd", class_names=("bg", "a"))
    assert protocol_for(tv).name == "torchvision-reference"
    val = PROTOCOLS["ultralytics-val"].settings
    assert (val.score_floor, val.nms_iou, val.max_detections, val.multi_label, val.letterbox, val.clip) == (
        0.001, 0.7, 300, True, "val", False)
    with pytest.raises(DetviewerError, match="unknown protocol 'yolo'; choose one of ultralytics-val"):
        get_protocol("yolo")


def test_onnx_export_under_val_keeps_low_scores_and_every_class_and_restores_predict(scored_export):
    from detviewer.detectors.registry import load_detector

    detector = load_detector(str(scored_export), device="cpu")
    image = np.full((64, 64, 3), 90, np.uint8)
    predict = detector.infer(image).detections
    assert list(zip(np.round(predict.scores.astype(float), 3).tolist(), predict.labels.tolist())) == [(0.9, 0)]  # best class
    with detector.evaluating(PROTOCOLS["ultralytics-val"].settings):
        val = detector.infer(image).detections
        assert detector.nms.score_threshold == 0.001 and detector.multi_label
    got = sorted(zip(np.round(val.scores.astype(float), 4).tolist(), val.labels.tolist()))
    # multi-label: box 0 is a candidate for c0 and c1 (different classes never suppress each other); box 1's
    # 0.1 passes val's floor; box 2's 0.0005 does not
    assert got == [(0.1, 2), (0.4, 1), (0.9, 0)]
    assert detector.nms.score_threshold == 0.25 and not detector.multi_label and detector.letterbox == "predict"
    again = detector.infer(image).detections
    assert len(again) == len(predict)


def test_torchvision_head_thresholds_are_set_inside_and_restored():
    from detviewer.detectors.demo import load_demo_detector

    detector = load_demo_detector("demo-ssd", "none")
    head = detector.model
    own = (head.score_thresh, head.nms_thresh, head.detections_per_img)
    with detector.evaluating(EvaluationSettings(score_floor=0.3, nms_iou=0.6, max_detections=7)):
        assert (head.score_thresh, head.nms_thresh, head.detections_per_img) == (0.3, 0.6, 7)
        assert (detector.nms.score_threshold, detector.nms.iou_threshold, detector.nms.max_detections) == (0.3, 0.6, 7)
        dets = detector.infer(np.zeros((96, 96, 3), np.uint8)).detections
        assert len(dets) <= 7 and (dets.scores > 0.3).all()
    assert (head.score_thresh, head.nms_thresh, head.detections_per_img) == own
    # the model's own protocol changes nothing
    with detector.evaluating(PROTOCOLS["detviewer-demo"].settings):
        assert (head.score_thresh, head.nms_thresh, head.detections_per_img) == own


def test_a_thresholds_error_inside_still_restores(scored_export):
    from detviewer.detectors.registry import load_detector

    detector = load_detector(str(scored_export), device="cpu")
    with pytest.raises(RuntimeError), detector.evaluating(PROTOCOLS["ultralytics-val"].settings):
        raise RuntimeError("boom")
    assert detector.nms.score_threshold == 0.25 and detector.clip and not detector.multi_label


def test_dataset_run_uses_the_protocol_not_the_display_threshold(scored_export, tmp_path):
    import cv2

    from detviewer.detectors.registry import load_detector
    from detviewer.evaluation.run_dataset import run_dataset
    from detviewer.io.datasets import open_dataset
    from detviewer.io.prediction_store import PredictionStore

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.full((64, 64, 3), 90, np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("2 0.703125 0.703125 0.1875 0.1875\n")
    (tmp_path / "data.yaml").write_text("val: images\nnames: [c0, c1, c2]\n")
    dataset = open_dataset(tmp_path / "data.yaml")
    detector = load_detector(str(scored_export), device="cpu")
    cache = PredictionStore.open(tmp_path / "cache")
    run = run_dataset(detector, dataset, cache)
    assert run.protocol == "ultralytics-val"
    assert sorted(np.round(run.predictions.boxes.scores, 4).tolist()) == [0.1, 0.4, 0.9]
    predict = run_dataset(detector, dataset, cache, protocol=get_protocol("ultralytics-predict"))
    assert predict.computed == 1 and predict.cached == 0  # another protocol's answers are never read back
    assert sorted(np.round(predict.predictions.boxes.scores, 4).tolist()) == [0.9]
    again = run_dataset(detector, dataset, cache)
    assert again.cached == 1 and len(again.predictions.boxes) == 3
