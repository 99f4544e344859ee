"""OpenCV's classic detectors as detviewer detectors: the Haar cascade's raw windows, pyramid and grouping on the
shipped astronaut photo (NOTES-torchvision: 47 raw windows at scaleFactor 1.1, one face at (177, 66, 95, 95)),
HOG's per-scale SVM margins against OpenCV's own raw windows, and group_rectangles against cv2.groupRectangles."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from detviewer.cli import main
from detviewer.core.classic import group_rectangles, partition_rects
from detviewer.detectors.classic import haar_pyramid, hog_pyramid
from detviewer.detectors.registry import MODELS, load_detector
from detviewer.errors import DetviewerError
from detviewer.io.images import load_image
from detviewer.resources import assets_dir

ASTRONAUT = assets_dir() / "photos" / "astronaut.png"


@pytest.fixture(scope="module")
def astronaut():
    return load_image(ASTRONAUT)


@pytest.fixture(scope="module")
def haar(astronaut):
    return load_detector("haar-frontalface", device="cpu").infer(astronaut)


def test_the_frontal_face_cascade_finds_47_raw_windows_and_one_face_on_the_astronaut(haar):
    trace = haar.classic
    assert trace.method == "haar" and trace.base_window == (24, 24) and trace.scale_factor == 1.1
    assert trace.raw_count == 47
    assert len(haar.detections) == 1
    np.testing.assert_array_equal(haar.detections.xyxy[0], [177, 66, 177 + 95, 66 + 95])
    assert haar.detections.class_names[haar.detections.labels[0]] == "face"
    # the face's cluster holds 40 of the 47 windows; the other five clusters are too small for minNeighbors 3
    assert sorted(trace.groups.counts.tolist()) == [1, 1, 1, 2, 2, 40]
    assert trace.groups.kept.sum() == 1 and trace.groups.counts[trace.groups.kept][0] == 40


def test_the_raw_windows_are_opencvs_own(astronaut, haar):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    rects = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=0)
    mine = haar.classic.raw_xyxy
    theirs = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    assert sorted(map(tuple, mine.astype(int).tolist())) == sorted(map(tuple, theirs.tolist()))
    # each raw window's level is the one whose window side it has
    sides = mine[:, 2] - mine[:, 0]
    assert all(haar.classic.levels[k].window[1] == s for k, s in zip(haar.classic.raw_level, sides))


def test_the_haar_pyramid_is_opencvs():
    """Factors 1.1^k while cvRound(24 · 1.1^k) <= 512: k = 0..32 (1.1^33 · 24 = 557); the scanned image is
    cvRound(512 / 1.1^k); 2-px steps below factor 2, 1 px from 1.1^8 = 2.14 on."""
    levels = haar_pyramid((512, 512), (24, 24), 1.1)
    assert len(levels) == 33
    assert [lv.image_size[0] for lv in levels[:5]] == [512, 465, 423, 385, 350]  # 512/1.21 = 423.1, /1.331 = 384.7
    assert [lv.window[0] for lv in levels[:5]] == [24, 26, 29, 32, 35]
    assert [lv.step for lv in levels[7:9]] == [2, 1]  # 1.1^7 = 1.95, 1.1^8 = 2.14
    assert levels[0].grid == (245, 245)  # x = 0, 2, ..., 488: (512 - 24) / 2 + 1
    assert levels[8].image_size == (239, 239) and levels[8].grid == (216, 216)  # 512 / 2.1436 = 238.85; 239 - 24 + 1


def test_the_hog_pyramid_and_every_windows_svm_margin_agree_with_opencvs_raw_windows(astronaut):
    """29 scales 1.05^k while cvRound(512 / 1.05^k) >= 128 (1.05^28 = 3.92, 1.05^29 = 4.12); 57 × 49 positions at
    scale 1 ((512 - 64) / 8 + 1, (512 - 128) / 8 + 1); the windows whose margin is above 0 are OpenCV's raw ones."""
    inference = load_detector("hog-people", device="cpu").infer(astronaut)
    trace = inference.classic
    assert len(trace.levels) == 29 == len(trace.margins)
    assert trace.levels[0].grid == (49, 57) and trace.margins[0].shape == (49, 57)
    assert trace.levels[28].image_size == (131, 131)  # 512 / 3.92 = 130.7
    assert not any(np.isnan(m).any() for m in trace.margins)  # every position scored
    above = [int((m > trace.threshold).sum()) for m in trace.margins]
    assert above == np.bincount(trace.raw_level, minlength=len(trace.levels)).tolist()
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(astronaut, 0.0, (8, 8), (0, 0), 1.05, 0, False)
    assert len(rects) == trace.raw_count == sum(above)
    np.testing.assert_allclose(np.sort(trace.raw_scores), np.sort(np.ravel(weights)), rtol=1e-5)
    grouped, _ = hog.detectMultiScale(astronaut, 0.0, (8, 8), (0, 0), 1.05, 2, False)
    theirs = np.concatenate([grouped[:, :2], grouped[:, :2] + grouped[:, 2:]], axis=1)
    np.testing.assert_array_equal(inference.detections.xyxy, theirs)
    assert hog_pyramid((512, 512), (128, 64), 1.05, 8) == trace.levels


@pytest.mark.parametrize("min_neighbors", [0, 1, 2, 3, 5])
def test_group_rectangles_gives_opencvs_boxes(min_neighbors):
    rng = np.random.default_rng(min_neighbors)
    for _ in range(60):
        n = int(rng.integers(1, 50))
        centres = rng.integers(0, 300, size=(4, 2))[rng.integers(0, 4, size=n)]
        sides = np.repeat(rng.integers(20, 80, size=(n, 1)), 2, axis=1)
        rects = np.concatenate([centres + rng.integers(-8, 9, size=(n, 2)), sides], axis=1)
        groups = group_rectangles(rects, min_neighbors, 0.2)
        boxes = groups.boxes[groups.kept]
        mine = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(int)
        theirs, _ = cv2.groupRectangles(rects.tolist(), min_neighbors, 0.2)
        assert sorted(map(tuple, mine.tolist())) == sorted(map(tuple, np.reshape(theirs, (-1, 4)).tolist()))


def test_partition_joins_chains_of_similar_rects():
    """a ~ b and b ~ c but not a ~ c: one cluster (cv::partition is transitive); d is alone."""
    rects = np.array([[0, 0, 20, 20], [4, 0, 20, 20], [8, 0, 20, 20], [100, 100, 20, 20]])
    assert partition_rects(rects, 0.2).tolist() == [0, 0, 0, 1]  # delta = 0.2 * 20 = 4


def test_classic_entries_load_and_refuse_bad_weights_in_one_sentence(tmp_path):
    for name in ("haar-frontalface", "haar-catface", "haar-fullbody", "haar-upperbody", "hog-people"):
        # HOG's linear SVM gives every window a margin (the lecture's HOG slides need it); a cascade gives stages
        expected = frozenset({"classic", "svm_margins"} if name == "hog-people" else {"classic"})
        assert MODELS[name].capabilities == expected
        assert load_detector(name, device="cpu").capabilities == expected
    with pytest.raises(DetviewerError, match="no 'coco' weights"):
        load_detector("haar-frontalface", weights="coco")
    bad = tmp_path / "broken.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(DetviewerError, match="not an OpenCV cascade file"):
        load_detector("haar-frontalface", weights=str(bad))
    # a cascade file as weights runs that cascade
    own = load_detector("haar-catface", weights=cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert own.infer(load_image(ASTRONAUT)).classic.raw_count == 47


def test_detect_and_eval_run_the_cascade(tmp_path, capsys):
    """`detect` writes the face; `eval` against a one-face COCO file of the astronaut finds it (AP 1)."""
    gt = {"images": [{"id": 1, "file_name": "astronaut.png", "width": 512, "height": 512}],
          "categories": [{"id": 1, "name": "face"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [175, 64, 98, 99], "area": 9702,
                           "iscrowd": 0}]}
    gt_path = tmp_path / "faces.json"
    gt_path.write_text(json.dumps(gt))
    shutil.copy(ASTRONAUT, tmp_path / "astronaut.png")
    out = tmp_path / "pred.json"
    assert main(["detect", str(ASTRONAUT), "--model", "haar-frontalface", "--out", str(out), "--quiet"]) == 0
    (row,) = json.loads(out.read_text())
    assert row["bbox"] == [177.0, 66.0, 95.0, 95.0]
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt_path), "--data", str(gt_path), "--model", "haar-frontalface", "--json",
                 "--no-cache"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["classes"]["face"]["tp"] == 1 and stats["classes"]["face"]["fp"] == 0
    assert stats["stats"]["AP50"] == pytest.approx(1.0)


def test_a_large_photo_is_shrunk_before_the_scan_and_boxes_come_back_in_its_pixels(astronaut):
    """A 2048-px photo is scanned at MAX_SIDE = 1024 (half size): the face comes back at 4× its 512-px box (within the
    rounding of two resizes), and the pyramid view counts the window in the photo's pixels (24 → 48 px)."""
    from detviewer.detectors.classic import MAX_SIDE
    from detviewer.render.model.views.classic_pyramid import pyramid_frame

    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    inference = load_detector("haar-frontalface").infer(big)
    assert MAX_SIDE == 1024 and inference.scale == (0.5, 0.5) and inference.input_size == (1024, 1024)
    assert inference.classic.levels[0].image_size == (1024, 1024)
    assert len(inference.detections) >= 1
    np.testing.assert_allclose(inference.detections.xyxy[0], np.array([177, 66, 272, 161]) * 4, atol=24)
    caption = pyramid_frame(inference, 0).caption
    assert "the photo shrunk 2× to 1024×1024 px" in caption and "covers 48×48 px of the photo" in caption
