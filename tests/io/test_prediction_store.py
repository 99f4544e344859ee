"""The prediction store: round trip to the bit, implausible entries recomputed, an injected SQLite / OS error
switches it off with one sentence, image hashes refuse devices and pipes, the window and the CLI share it."""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detviewer.core.run_info import RunInfo
from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.errors import ImageLoadError
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
from detviewer.evaluation.run_dataset import run_dataset
from detviewer.evaluation.stored_run import open_stored_run
from detviewer.io import prediction_records as records
from detviewer.io.content_hash import content_hash
from detviewer.io.datasets import open_dataset
from detviewer.io.prediction_store import STORE_NAME, PredictionStore, default_store_dir

NAMES = ("__background__", "cat", "dog")
RUN = RunInfo(model="fake", weights_hash="a" * 16, protocol="default", dataset="ds")


class FakeDetector:
    """One cat where the image's red channel says, a dog candidate; float32 boxes that are not round numbers."""

    name, class_names = "fake", NAMES

    def __init__(self):
        self.calls = 0

    def infer(self, image):
        self.calls += 1
        x = float(image[0, 0, 0]) + 0.123456789
        cand = Detections(np.array([[x, 10.3, x + 20.7, 30.1], [x + 1, 10, x + 21, 30], [60, 0, 70, 10]], np.float32),
                          np.array([0.91234567, 0.8, 0.4], np.float32), np.array([1, 1, 2]), NAMES)
        return Inference("fake", image.shape[:2], cand[[0, 2]], cand, nms=NMSParams(0.5, 0.05, False, 100))


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "ds"
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    for i, x in enumerate([5, 30, 50, 70]):
        pixels = np.zeros((40, 100, 3), np.uint8)
        pixels[..., 0] = x
        Image.fromarray(pixels).save(root / "images" / f"{i}.png")
        (root / "labels" / f"{i}.txt").write_text(f"0 {(x + 10) / 100} 0.5 0.2 0.5\n")
    (root / "classes.txt").write_text("cat\ndog\n")
    return open_dataset(root)


def _stats(dataset, predictions) -> np.ndarray:
    """pycocotools-equal COCO stats (AP, AP50, ...) of the predictions."""
    return np.array(list(DatasetEvaluation.from_dataset(dataset, predictions).coco.stats.values()))


def test_round_trip_is_exact_and_a_second_run_reads_the_store(dataset, tmp_path):
    store = PredictionStore.open(tmp_path / "c")
    detector = FakeDetector()
    first = run_dataset(detector, dataset, store, run_info=RUN)
    assert (first.computed, first.cached, first.warnings) == (4, 0, ())
    again = run_dataset(detector, dataset, PredictionStore.open(tmp_path / "c"), run_info=RUN)
    assert (again.computed, again.cached, detector.calls) == (0, 4, 4)
    for a, b in zip(first.predictions.boxes.__dict__.values(), again.predictions.boxes.__dict__.values()):
        np.testing.assert_array_equal(a, b)  # bit-equal: float32 in, float32 out
    hit = again.predictions.cached(2, NAMES)
    assert hit.image_size == (40, 100) and hit.nms == NMSParams(0.5, 0.05, False, 100) and len(hit.candidates) == 3
    assert hit.candidates.xyxy.dtype == np.float32 and hit.candidates.labels.tolist() == [1, 1, 2]
    assert list(tmp_path.joinpath("c").iterdir())[0].name.startswith(STORE_NAME)


def test_another_protocol_or_weights_is_another_run(dataset, tmp_path):
    store = PredictionStore.open(tmp_path / "c")
    run_dataset(FakeDetector(), dataset, store, run_info=RUN)
    for other in (replace(RUN, protocol="ultralytics-val"), replace(RUN, weights_hash="b" * 16)):
        assert run_dataset(FakeDetector(), dataset, store, run_info=other).computed == 4


def _tamper(path: Path, sql: str, params=()) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, params)


def test_implausible_entries_are_recomputed(dataset, tmp_path):
    store = PredictionStore.open(tmp_path / "c")
    clean = run_dataset(FakeDetector(), dataset, store, run_info=RUN)
    db = tmp_path / "c" / STORE_NAME
    hashes = clean.predictions.image_hashes
    nan = np.frombuffer(records.encode(FakeDetector().infer(np.zeros((4, 4, 3), np.uint8)))["det"], records.RECORD).copy()
    nan["xyxy"][0, 1] = np.nan
    wild = nan.copy()
    wild["xyxy"][0, 1], wild["label"][1] = 1.0, 999  # a label outside the model's 3 classes
    _tamper(db, "UPDATE predictions SET det_n = ? WHERE image_hash = ?", (10 ** 11, hashes[0]))  # a huge claim
    _tamper(db, "UPDATE predictions SET det = ? WHERE image_hash = ?", (nan.tobytes(), hashes[1]))
    _tamper(db, "UPDATE predictions SET det = ? WHERE image_hash = ?", (wild.tobytes(), hashes[2]))
    _tamper(db, "UPDATE candidates SET cand = ? WHERE image_hash = ?", (b"\x00" * 5, hashes[3]))  # shape mismatch
    detector = FakeDetector()
    again = run_dataset(detector, dataset, PredictionStore.open(tmp_path / "c"), run_info=RUN)
    assert (again.computed, again.cached, again.failures, again.warnings) == (4, 0, (), ())
    assert _stats(dataset, clean.predictions)[0] > 0.5  # AP: the fake finds the cats
    np.testing.assert_array_equal(_stats(dataset, again.predictions), _stats(dataset, clean.predictions))
    third = run_dataset(detector, dataset, PredictionStore.open(tmp_path / "c"), run_info=RUN)
    assert third.cached == 4  # the recomputed answers replaced the bad entries


def test_implausible_headers_and_values_refused_by_decode():
    inference = FakeDetector().infer(np.zeros((4, 4, 3), np.uint8))
    row = records.encode(inference)
    assert records.decode(row, num_labels=3) is not None
    for change in ({"det_n": 10 ** 11}, {"cand_n": -1}, {"height": 0}, {"width": 10 ** 9}, {"nms_iou": float("nan")},
                   {"record": "pickle"}, {"det": "text"}, {"nms_max": 10 ** 12}):
        assert records.decode({**row, **change}, num_labels=3) is None, change
    assert records.decode(row, num_labels=2) is None  # a dog (label 2) from a model with 2 labels


class _FailingConnection:
    """A sqlite3 connection whose writes fail after ``after`` of them, as a full disk or a lost lock makes it."""

    def __init__(self, conn, after: int, error: Exception):
        self.conn, self.left, self.error = conn, after, error

    def execute(self, sql, params=()):
        if sql.lstrip().upper().startswith("INSERT OR REPLACE INTO PREDICTIONS"):
            if self.left <= 0:
                raise self.error
            self.left -= 1
        return self.conn.execute(sql, params)

    @property
    def in_transaction(self):
        return self.conn.in_transaction

    def close(self):
        self.conn.close()


@pytest.mark.parametrize("error", [sqlite3.OperationalError("database or disk is full"), OSError(5, "I/O error")])
def test_an_injected_error_switches_the_store_off_with_one_sentence(dataset, tmp_path, error):
    clean = run_dataset(FakeDetector(), dataset, None)
    store = PredictionStore.open(tmp_path / "c")
    store._conn = _FailingConnection(store._conn, 1, error)
    run = run_dataset(FakeDetector(), dataset, store, run_info=RUN)
    assert (run.computed, run.failures, len(run.warnings)) == (4, (), 1)
    assert run.warnings[0].startswith(f"The prediction store {tmp_path / 'c' / STORE_NAME} could not be written (")
    assert "no number changes" in run.warnings[0]
    np.testing.assert_array_equal(_stats(dataset, run.predictions), _stats(dataset, clean.predictions))
    assert run.predictions.cache is None  # no half-stored run to replay NMS from
    reopened = run_dataset(FakeDetector(), dataset, PredictionStore.open(tmp_path / "c"), run_info=RUN)
    assert (reopened.cached, reopened.computed) == (1, 3)  # the image stored before the failure is kept


def test_a_random_weights_model_is_not_stored_and_says_so(dataset, tmp_path):
    run = run_dataset(FakeDetector(), dataset, PredictionStore.open(tmp_path / "c"))  # no weights file to hash
    assert run.computed == 4 and len(run.warnings) == 1 and "not kept in the prediction store" in run.warnings[0]


def test_hashing_refuses_devices_pipes_and_folders(tmp_path):
    with pytest.raises(ImageLoadError, match="not a regular file"):
        content_hash("/dev/zero")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="not a regular file"):  # opening a FIFO must not block
        content_hash(fifo)
    with pytest.raises(ImageLoadError, match="folder"):
        content_hash(tmp_path)
    (tmp_path / "big.png").write_bytes(b"x" * 100)
    with pytest.raises(ImageLoadError, match="limit"):
        content_hash(tmp_path / "big.png", max_bytes=99)


def test_a_dev_zero_image_is_one_failure_not_a_hang(dataset, tmp_path):
    hostile = replace(dataset, image_paths=(Path("/dev/zero"), *dataset.image_paths[1:]))
    done = []
    worker = threading.Thread(target=lambda: done.append(run_dataset(FakeDetector(), hostile,
                                                                      PredictionStore.open(tmp_path / "c"),
                                                                      run_info=RUN)), daemon=True)
    worker.start()
    worker.join(20)
    assert done, "the run hung on /dev/zero"
    run = done[0]
    assert [i for i, _ in run.failures] == [0] and "not a regular file" in run.failures[0][1]
    assert run.computed == 3


def test_a_stored_run_reopens_without_the_images(dataset, tmp_path):
    store = PredictionStore.open(tmp_path / "c")
    ran = run_dataset(FakeDetector(), dataset, store, run_info=RUN)
    for path in dataset.image_paths:
        path.unlink()  # reopening touches no image
    opened = open_stored_run(PredictionStore.open(tmp_path / "c"), dataset)
    assert opened is not None and opened.failures == () and opened.cached == 4
    assert opened.run_info.weights_hash == RUN.weights_hash and opened.label_map == ran.label_map
    for a, b in zip(ran.predictions.boxes.__dict__.values(), opened.predictions.boxes.__dict__.values()):
        np.testing.assert_array_equal(a, b)
    assert len(opened.predictions.cached(3, NAMES).candidates) == 3  # candidates read on demand


def test_the_window_and_the_cli_share_one_store_folder(monkeypatch, tmp_path):
    pytest.importorskip("PySide6")
    from detviewer.gui.workspace.runs import cache_root

    monkeypatch.delenv("DETVIEWER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == default_store_dir() == tmp_path / "xdg" / "detviewer"
    monkeypatch.setenv("DETVIEWER_CACHE", str(tmp_path / "mine"))
    assert cache_root() == default_store_dir() == tmp_path / "mine"


def test_the_protocol_is_part_of_the_identity_by_name_or_object(dataset, tmp_path):
    from types import SimpleNamespace

    weights = tmp_path / "best.pt"
    weights.write_bytes(b"trained")
    detector = FakeDetector()
    detector.weights = str(weights)  # a user's checkpoint: hashed by content
    store = PredictionStore.open(tmp_path / "c")
    first = run_dataset(detector, dataset, store, protocol=SimpleNamespace(name="ultralytics-val"))
    assert first.computed == 4 and first.warnings == ()
    assert first.run_info.protocol == "ultralytics-val" and first.run_info.weights_hash == content_hash(weights, 16)
    assert run_dataset(detector, dataset, store, protocol="ultralytics-val").cached == 4
    assert run_dataset(detector, dataset, store).computed == 4  # the default protocol is another run
