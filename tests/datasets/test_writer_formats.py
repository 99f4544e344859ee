"""make-shapes --format coco|yolo|voc: each layout opens with io.datasets.open_dataset and holds the same
images and boxes (YOLO: 6 decimals of the normalised coordinates; VOC: 3 decimals, Ultralytics' corner rule)."""

from __future__ import annotations

import numpy as np
import pytest

from detviewer.cli import main
from detviewer.datasets.shapes import SHAPE_CLASSES
from detviewer.io.datasets import open_dataset


@pytest.fixture(scope="module")
def three_layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    for layout in ("coco", "yolo", "voc"):
        assert main(["make-shapes", str(root / layout), "--count", "4", "--seed", "5", "--size", "128",
                     "--format", layout, "--quiet"]) == 0
    return {"coco": open_dataset(root / "coco" / "annotations.json"), "yolo": open_dataset(root / "yolo" / "data.yaml"),
            "voc": open_dataset(root / "voc"), "root": root}


def _by_name(dataset):
    """Per image (by file name): sorted (class name, x, y, w, h) rows."""
    gt = dataset.gt
    out = {}
    for i, name in enumerate(gt.file_names):
        rows = gt.boxes.image_index == i
        named = [(dataset.class_names[c], *b) for c, b in zip(gt.boxes.category_index[rows], gt.boxes.xywh[rows])]
        out[name.rsplit("/", 1)[-1]] = sorted(named)
    return out


def test_each_layout_is_read_as_its_format_with_the_same_boxes(three_layouts):
    coco, yolo, voc = three_layouts["coco"], three_layouts["yolo"], three_layouts["voc"]
    assert (coco.format, yolo.format, voc.format) == ("coco", "yolo", "voc")
    assert yolo.class_names == SHAPE_CLASSES == coco.class_names
    assert voc.class_names == tuple(sorted(SHAPE_CLASSES))  # no classes.txt: VOC readers number alphabetically
    reference = _by_name(coco)
    for other, tolerance in ((yolo, 1e-3), (voc, 1.5e-3)):
        got = _by_name(other)
        assert got.keys() == reference.keys()
        for name in reference:
            assert [r[0] for r in got[name]] == [r[0] for r in reference[name]]
            np.testing.assert_allclose([r[1:] for r in got[name]], [r[1:] for r in reference[name]], atol=tolerance)


def test_layout_files(three_layouts):
    root = three_layouts["root"]
    assert sorted(p.name for p in (root / "yolo" / "images").iterdir()) == [f"shapes_5_{i:05d}.png" for i in range(4)]
    assert (root / "yolo" / "labels" / "shapes_5_00000.txt").read_text().split("\n")[0].count(" ") == 4
    assert sorted(p.name for p in (root / "voc" / "Annotations").iterdir()) == [f"shapes_5_{i:05d}.xml" for i in range(4)]
    assert (root / "voc" / "JPEGImages" / "shapes_5_00003.png").is_file()
    assert not list((root / "yolo").rglob(".*.tmp*"))  # atomic writes leave no temporary file


def test_old_image_format_values_still_work_and_bad_formats_are_one_sentence(tmp_path, capsys):
    assert main(["make-shapes", str(tmp_path / "j"), "--count", "1", "--size", "64", "--format", "jpg", "--quiet"]) == 0
    assert (tmp_path / "j" / "shapes_0_00000.jpg").is_file() and (tmp_path / "j" / "annotations.json").is_file()
    assert main(["make-shapes", str(tmp_path / "y"), "--count", "1", "--size", "64", "--format", "yolo",
                 "--image-format", "jpg", "--quiet"]) == 0
    assert (tmp_path / "y" / "images" / "shapes_0_00000.jpg").is_file()
    assert main(["make-shapes", str(tmp_path / "z"), "--count", "1", "--format", "kitti"]) == 2
    assert "invalid choice: 'kitti'" in capsys.readouterr().err
