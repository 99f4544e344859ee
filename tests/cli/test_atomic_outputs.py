"""Every file the CLI writes is atomic: on a full or read-only filesystem the previous file stays as it was, no
temporary or partial file is left, and the run ends with one sentence on stderr and exit 2.

The filesystems are small tmpfs mounts (tests/fs_fixtures.py; skipped where mounting needs a root we lack)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fs_fixtures import fill_up
from PIL import Image

from detviewer.cli import main

MODEL = ["--model", "ssdlite320_mobilenet_v3_large", "--weights", "none", "--device", "cpu", "--quiet"]


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(folder / name)
    return folder


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_detect_out_on_a_full_disk_keeps_the_previous_results(images, small_fs, capsys):
    out = small_fs / "results.json"
    out.write_text('[{"previous": true}]')
    fill_up(small_fs)
    capsys.readouterr()
    assert main(["detect", str(images), *MODEL, "--out", str(out)]) == 2
    assert _errors(capsys) == [f"error: Cannot write {out}: the disk is full."]
    assert out.read_text() == '[{"previous": true}]'
    assert _names(small_fs) == ["filler.bin", "results.json"]


def test_detect_out_on_a_read_only_filesystem_is_one_sentence(images, read_only_fs, capsys):
    capsys.readouterr()
    assert main(["detect", str(images), *MODEL, "--out", str(read_only_fs / "r.json")]) == 2
    assert _errors(capsys) == [f"error: Cannot write {read_only_fs / 'r.json'}: the filesystem is read-only."]
    assert _names(read_only_fs) == []


def _shards(folder: Path) -> list[Path]:
    shards = []
    for i in range(2):
        path = folder / f"s{i}.json"
        path.write_text(json.dumps([{"image_id": i + 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}] * 200))
        shards.append(path)
    return shards


def test_merge_results_on_a_full_disk_keeps_the_previous_file(tmp_path, small_fs, capsys):
    out = small_fs / "merged.json"
    out.write_text("previous")
    fill_up(small_fs)
    assert main(["merge-results", *map(str, _shards(tmp_path)), "-o", str(out)]) == 2
    assert _errors(capsys) == [f"error: Cannot write {out}: the disk is full."]
    assert out.read_text() == "previous" and _names(small_fs) == ["filler.bin", "merged.json"]


def test_merge_results_on_a_read_only_filesystem(tmp_path, read_only_fs, capsys):
    out = read_only_fs / "merged.json"
    assert main(["merge-results", *map(str, _shards(tmp_path)), "-o", str(out)]) == 2
    assert _errors(capsys) == [f"error: Cannot write {out}: the filesystem is read-only."]
    assert _names(read_only_fs) == []


@pytest.fixture
def shapes(tmp_path):
    assert main(["make-shapes", str(tmp_path / "shapes"), "--count", "2", "--seed", "7", "--quiet"]) == 0
    return tmp_path / "shapes"


@pytest.mark.slow
def test_save_pred_on_a_full_disk_and_a_read_only_filesystem(shapes, small_fs, read_only_fs, capsys):
    argv = ["eval", "--model", "demo-ssd", "--device", "cpu", "--threads", "1", "--data", str(shapes), "--no-cache"]
    saved = small_fs / "pred.json"
    saved.write_text("previous")
    fill_up(small_fs)
    capsys.readouterr()
    assert main([*argv, "--save-pred", str(saved)]) == 2
    assert _errors(capsys) == [f"error: Cannot write {saved}: the disk is full."]
    assert saved.read_text() == "previous" and _names(small_fs) == ["filler.bin", "pred.json"]
    assert main([*argv, "--save-pred", str(read_only_fs / "pred.json")]) == 2
    assert _errors(capsys) == [f"error: Cannot write {read_only_fs / 'pred.json'}: the filesystem is read-only."]
    assert _names(read_only_fs) == []


def _gt_and_pred(tmp_path: Path) -> tuple[Path, Path]:
    gt = {"images": [{"id": 1, "file_name": "1.jpg"}], "categories": [{"id": 1, "name": "cat"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500}]}
    pred = [{"image_id": 1, "category_id": 1, "bbox": [12, 10, 50, 50], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def _is_complete_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def test_plots_on_a_full_disk_leave_no_partial_png(tmp_path, small_fs, capsys):
    gt, pred = _gt_and_pred(tmp_path)
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--plots", str(small_fs)]) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and errors[0].endswith(": the disk is full.") and str(small_fs) in errors[0]
    written = _names(small_fs)
    assert len(written) < 7  # 64 KiB holds a few of the seven charts, not all
    assert all(name.endswith(".png") and not name.startswith(".") for name in written)
    assert all(_is_complete_png(small_fs / name) for name in written)


def test_plots_on_a_read_only_filesystem(tmp_path, read_only_fs, capsys):
    gt, pred = _gt_and_pred(tmp_path)
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--plots", str(read_only_fs)]) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and errors[0].endswith(": the filesystem is read-only.")
    assert _names(read_only_fs) == []
