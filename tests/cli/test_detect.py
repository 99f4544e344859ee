"""`detviewer detect` end to end, in-process, with an untrained SSDlite (no network)."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from detviewer.cli import main

MODEL = ["--model", "ssdlite320_mobilenet_v3_large", "--weights", "none", "--device", "cpu", "--quiet"]


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(1)
    images = tmp_path / "images"
    images.mkdir()
    for name in ("img2.png", "img10.jpg", "img1.png"):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(images / name)
    (images / "broken.png").write_text("this is not a png")
    return images


def _run(capsys, *argv):
    code = main(["detect", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_folder_with_a_broken_file_reports_it_and_writes_the_rest(folder, tmp_path, capsys):
    out = tmp_path / "results.json"
    code, _, err = _run(capsys, str(folder), *MODEL, "--out", str(out))
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "broken.png" in error_lines[0]
    results = json.loads(out.read_text())
    # natural order img1, img2, img10 -> ids 1, 2, 3 (the broken file gets none)
    assert {r["image_id"] for r in results} == {1, 2, 3}
    assert all(len(r["bbox"]) == 4 and r["bbox"][2] >= 0 and 1 <= r["category_id"] <= 90 for r in results)


def test_score_threshold_drops_low_scores(folder, tmp_path, capsys):
    good = [str(folder / "img1.png")]
    _, all_out, _ = _run(capsys, *good, *MODEL)
    _, high_out, _ = _run(capsys, *good, *MODEL, "--score", "0.3")
    everything, high = json.loads(all_out), json.loads(high_out)
    assert len(high) == sum(r["score"] >= 0.3 for r in everything) < len(everything)


def test_image_ids_and_categories_come_from_the_ground_truth(folder, tmp_path, capsys):
    gt = {"images": [{"id": 70, "file_name": "images/img1.png", "width": 160, "height": 120},
                     {"id": 71, "file_name": "other/img10.jpg", "width": 160, "height": 120}],
          "annotations": [{"id": 1, "image_id": 70, "category_id": 5, "bbox": [10, 10, 50, 40], "area": 2000,
                           "iscrowd": 0}],
          "categories": [{"id": 5, "name": "person"}, {"id": 9, "name": "car"}]}
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    out = tmp_path / "r.json"
    code, _, err = _run(capsys, str(folder / "img1.png"), str(folder / "img10.jpg"), str(folder / "img2.png"),
                        *MODEL, "--gt", str(gt_path), "--out", str(out))
    assert code == 1 and "img2.png" in err  # not an image of the GT
    results = json.loads(out.read_text())
    assert {r["image_id"] for r in results} <= {70, 71}  # by relative path, then by base name
    assert {r["category_id"] for r in results} <= {5, 9}  # COCO "person"/"car" mapped by name
    assert main(["eval", "--gt", str(gt_path), "--pred", str(out), "--json"]) == 0


def test_video_frames_each_get_an_id(tmp_path, capsys):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for i in range(4):
        writer.write(np.full((64, 96, 3), 40 * i, np.uint8))
    writer.release()
    code, out, _ = _run(capsys, str(path), *MODEL)
    assert code == 0
    assert {r["image_id"] for r in json.loads(out)} <= {1, 2, 3, 4}
    assert len({r["image_id"] for r in json.loads(out)}) == 4


def test_usage_and_model_errors_exit_2_with_one_line(folder, tmp_path, capsys):
    code, _, err = _run(capsys, str(folder), "--model", "nonsense", "--quiet")
    assert code == 2 and err.strip().count("\n") == 0 and "Unknown model 'nonsense'" in err
    code, _, err = _run(capsys, str(tmp_path / "missing.png"), *MODEL)
    assert code == 2 and "no such file or folder" in err and "Traceback" not in err
    code, _, err = _run(capsys, str(folder), *MODEL[:2], "--weights", str(folder / "broken.png"), "--quiet")
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
