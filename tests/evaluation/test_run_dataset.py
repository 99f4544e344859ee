"""run_dataset through the prediction store, a failing image, stop, progress; NMS replayed from the cache;
results files mapped onto a dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from detviewer.core.run_info import RunInfo
from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.errors import DetviewerError
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
from detviewer.evaluation.run_dataset import run_dataset
from detviewer.io.datasets import open_dataset
from detviewer.io.prediction_store import PredictionStore
from detviewer.io.predictions import load_predictions

NAMES = ("__background__", "cat", "dog")
FAKE_RUN = RunInfo(model="fake", weights_hash="f" * 16, protocol="default", dataset="ds")


class FakeDetector:
    """Boxes where the image's red channel says (one 20x20 cat at (x, 10)), plus candidates."""

    name, class_names = "fake", NAMES

    def __init__(self):
        self.calls = 0

    def infer(self, image):
        self.calls += 1
        x = float(image[0, 0, 0])
        cand = Detections(np.array([[x, 10, x + 20, 30], [x + 1, 10, x + 21, 30], [60, 0, 70, 10]], np.float32),
                          np.array([0.9, 0.8, 0.4], np.float32), np.array([1, 1, 2]), NAMES)
        return Inference("fake", image.shape[:2], cand[[0, 2]], cand, nms=NMSParams(0.5, 0.05, False, 100))


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "ds"
    (root / "labels").mkdir(parents=True)
    for i, x in enumerate([5, 30, 50]):
        path = root / "images" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((40, 100, 3), np.uint8)
        pixels[..., 0] = x
        Image.fromarray(pixels).save(path)
        cx = (x + 10) / 100
        (root / "labels" / f"{i}.txt").write_text(f"0 {cx} 0.5 0.2 0.5\n")
    (root / "images" / "3.png").write_bytes(b"\x89PNG broken")  # header unreadable: left out with a warning
    (root / "classes.txt").write_text("cat\ndog\n")
    return open_dataset(root)


def test_run_uses_the_cache_the_second_time(dataset, tmp_path):
    assert dataset.num_images == 3 and any("3.png" in w for w in dataset.warnings)
    cache = PredictionStore.open(tmp_path / "cache")
    seen = []
    detector = FakeDetector()
    run = run_dataset(detector, dataset, cache, progress=lambda d, t, eta: seen.append((d, t)), run_info=FAKE_RUN)
    assert (run.computed, run.cached, run.failures, detector.calls) == (3, 0, (), 3)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert run.label_map == {1: 0, 2: 1}
    ev = DatasetEvaluation.from_dataset(dataset, run.predictions)
    snap = ev.at(0.5)
    assert snap.images.tp.tolist() == [1, 1, 1] and snap.images.fp.tolist() == [0, 0, 0]
    again = run_dataset(detector, dataset, cache, run_info=FAKE_RUN)
    assert (again.computed, again.cached, detector.calls) == (0, 3, 3)
    np.testing.assert_array_equal(again.predictions.boxes.xywh, run.predictions.boxes.xywh)
    hit = run.predictions.cached(1, NAMES)
    assert len(hit.candidates) == 3 and hit.nms.iou_threshold == 0.5


def test_a_failing_image_is_one_sentence_and_stop_is_polled(dataset, tmp_path):
    class Flaky(FakeDetector):
        def infer(self, image):
            if image[0, 0, 0] == 30:
                raise RuntimeError("CUDA out of memory\nmore lines")
            return super().infer(image)

    run = run_dataset(Flaky(), dataset, None)
    assert [i for i, _ in run.failures] == [1]
    assert run.failures[0][1].endswith("the model failed: RuntimeError: CUDA out of memory.")
    assert run.predictions.image_hashes[1] is None
    calls = iter([False, True])
    stopped = run_dataset(FakeDetector(), dataset, None, should_stop=lambda: next(calls, True))
    assert stopped.stopped and set(stopped.predictions.boxes.image_index.tolist()) == {0}


def test_a_model_without_the_dataset_classes_is_refused(dataset):
    class Other(FakeDetector):
        class_names = ("__background__", "zebra")

    with pytest.raises(DetviewerError, match="None of fake's classes"):
        run_dataset(Other(), dataset, None)


def test_nms_replayed_from_the_cache(dataset, tmp_path):
    pytest.importorskip("torch")
    from detviewer.evaluation.renms import replay_nms

    run = run_dataset(FakeDetector(), dataset, PredictionStore.open(tmp_path / "c"), run_info=FAKE_RUN)
    loose = replay_nms(run.predictions, run.label_map, 0.99)  # nothing suppressed: both cats stay
    assert len(loose) == 9 and len(replay_nms(run.predictions, run.label_map, 0.5)) == 6


def test_results_file_ids_through_the_mapping_stems_and_ids(dataset, tmp_path):
    results = tmp_path / "pred.json"
    rows = [{"image_id": 7, "category_id": 1, "bbox": [5, 10, 20, 20], "score": 0.9},
            {"image_id": 8, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5},
            {"image_id": 7, "category_id": 9, "bbox": [0, 0, 5, 5], "score": 0.5},
            {"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]
    results.write_text(json.dumps(rows))
    images = [{"id": 7, "file_name": str(dataset.image_paths[2])}, {"id": 8, "file_name": "elsewhere/0.png"}]
    (tmp_path / "pred.images.json").write_text(json.dumps({"images": images}))
    pred = load_predictions(results, dataset)
    assert pred.boxes.image_index.tolist() == [2, 0] and pred.boxes.category_index.tolist() == [0, 0]
    assert len(pred.warnings) == 2 and "image_id 99" in pred.warnings[0] and "category_id" in pred.warnings[1]
    # Ultralytics writes int(stem) for numeric names, class + 1 for category_id
    (tmp_path / "pred.images.json").unlink()
    results.write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [0, 0, 5, 5], "score": 0.5},
                                   {"image_id": "2", "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]))
    pred = load_predictions(results, dataset)
    assert pred.boxes.image_index.tolist() == [1, 2] and pred.boxes.category_index.tolist() == [1, 0]
