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
    # natural order broken, img1, img2, img10 -> ids 1, 2, 3, 4: the broken file keeps its id
    assert {r["image_id"] for r in results} == {2, 3, 4}
    mapping = json.loads((tmp_path / "results.images.json").read_text())["images"]
    assert [(m["id"], m["file_name"].rsplit("/", 1)[-1]) for m in mapping] == [
        (1, "broken.png"), (2, "img1.png"), (3, "img2.png"), (4, "img10.jpg")]
    assert "error" in mapping[0] and "error" not in mapping[1]
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


def test_shards_merge_to_the_whole_run_with_the_same_ids(folder, tmp_path, capsys):
    whole, shards = tmp_path / "all.json", [tmp_path / f"s{i}.json" for i in range(2)]
    assert _run(capsys, str(folder), *MODEL, "--out", str(whole))[0] == 1
    for i, path in enumerate(shards):
        code, _, err = _run(capsys, str(folder), *MODEL, "--out", str(path), "--shard", f"{i}/2", "--threads", "1")
        assert code == (1 if i == 0 else 0)  # shard 0 holds the broken file (input 0)
        assert "images/s" in err and "1 torch thread" in err
    assert [m["id"] for m in json.loads((tmp_path / "s1.images.json").read_text())["images"]] == [2, 4]
    merged = tmp_path / "merged.json"
    assert main(["merge-results", *map(str, shards), "-o", str(merged)]) == 0
    key = lambda r: (r["image_id"], r["category_id"], r["score"])  # noqa: E731
    assert sorted(json.loads(merged.read_text()), key=key) == sorted(json.loads(whole.read_text()), key=key)
    ids = [m["id"] for m in json.loads((tmp_path / "merged.images.json").read_text())["images"]]
    assert ids == [1, 2, 3, 4]
    # the same shard twice overlaps: one sentence, exit 2
    capsys.readouterr()
    assert main(["merge-results", str(shards[1]), str(shards[1]), str(shards[0]), "-o", str(merged)]) == 2
    assert "overlap" in capsys.readouterr().err


def test_bad_shard_is_a_usage_error(folder, capsys):
    code, _, err = _run(capsys, str(folder), *MODEL, "--shard", "2/2")
    assert code == 2 and "0 <= I < N" in err
