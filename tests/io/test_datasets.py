"""open_dataset: YOLO txt, Pascal VOC XML and COCO on hand-made files, malformed ones included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from detviewer.errors import AnnotationError
from detviewer.io.datasets import open_dataset


def _image(path, w=100, h=50):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h)).save(path)


@pytest.fixture()
def yolo(tmp_path):
    root = tmp_path / "ds"
    for name in ("a", "b", "c", "d", "e"):
        _image(root / "images" / "val" / f"{name}.jpg")
    labels = root / "labels" / "val"
    labels.mkdir(parents=True)
    (labels / "a.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.25 0.5 0.1 0.2\n")
    (labels / "b.txt").write_text("1 0.1 0.1 0.3 0.3 0.2 0.4\n")  # a polygon: its bounding box
    (labels / "c.txt").write_text("0 0.5 0.5 0.2\n")                # 4 values: malformed
    (labels / "d.txt").write_text("7 0.5 0.5 0.2 0.2\n")            # class out of range
    # e.jpg has no label file: an image without objects
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames:\n  0: cat\n  1: dog\n")
    return root


def test_yolo_data_yaml(yolo):
    ds = open_dataset(yolo / "data.yaml")
    assert ds.format == "yolo" and ds.class_names == ("cat", "dog")
    assert ds.gt.file_names == ("images/val/a.jpg", "images/val/b.jpg", "images/val/e.jpg")
    a = ds.boxes.image_index == 0
    # 0.5 0.5 0.2 0.4 on 100 x 50: x = 40, y = 15, w = 20, h = 20
    np.testing.assert_allclose(ds.boxes.xywh[a], [[40, 15, 20, 20], [20, 20, 10, 10]])
    assert ds.boxes.category_index[a].tolist() == [0, 1]
    np.testing.assert_allclose(ds.boxes.xywh[ds.boxes.image_index == 1], [[10, 5, 20, 15]])
    assert ds.gt.category_ids.tolist() == [1, 2]  # Ultralytics writes class + 1 to JSON
    assert len(ds.warnings) == 2
    assert "c.txt, line 1 has 4 values" in ds.warnings[0] and "left out" in ds.warnings[0]
    assert "d.txt, line 1 has class 7" in ds.warnings[1]
    assert ds.image_index(yolo / "images" / "val" / "e.jpg") == 2


def test_yolo_folder_with_classes_txt_and_bad_yaml(yolo, tmp_path):
    (yolo / "data.yaml").unlink()
    with pytest.raises(AnnotationError, match="no class names"):
        open_dataset(yolo)
    (yolo / "classes.txt").write_text("cat\ndog\n")
    assert open_dataset(yolo).num_images == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("names: [a, b\nval: x")
    with pytest.raises(AnnotationError, match="not valid YAML"):
        open_dataset(bad)
    (tmp_path / "noval.yaml").write_text("names: [a]\n")
    with pytest.raises(AnnotationError, match="names no image split"):
        open_dataset(tmp_path / "noval.yaml")


def _voc_xml(filename, objects, w=100, h=50):
    objs = "".join(f"<object><name>{n}</name><difficult>{int(d)}</difficult><bndbox><xmin>{b[0]}</xmin>"
                   f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
                   for n, b, d in objects)
    return f"<annotation><filename>{filename}</filename><size><width>{w}</width><height>{h}</height></size>{objs}</annotation>"


def test_voc_devkit_layout_with_malformed_files(tmp_path):
    root = tmp_path / "VOC2007"
    for name in ("000001", "000002", "000003", "000004"):
        _image(root / "JPEGImages" / f"{name}.jpg")
    ann = root / "Annotations"
    ann.mkdir()
    (ann / "000001.xml").write_text(_voc_xml("000001.jpg", [("dog", (11, 21, 40, 45), False),
                                                            ("person", (1, 1, 10, 10), True)]))
    (ann / "000002.xml").write_text("<annotation><object><name>dog</name>")         # truncated XML
    (ann / "000003.xml").write_text(_voc_xml("000003.jpg", [("dog", (50, 20, 30, 40), False)]))  # xmax < xmin
    (ann / "000004.xml").write_text(_voc_xml("000004.jpg", []))
    ds = open_dataset(root)
    assert ds.format == "voc" and ds.class_names == ("dog", "person")
    assert ds.gt.file_names == ("JPEGImages/000001.jpg", "JPEGImages/000004.jpg")
    np.testing.assert_allclose(ds.boxes.xywh, [[10, 20, 29, 24], [0, 0, 9, 9]])
    assert ds.boxes.crowd.tolist() == [False, True]  # difficult: ignored as COCO ignores crowd regions
    assert any("000002.xml is not valid XML" in w for w in ds.warnings)
    assert any("000003.xml: object 1 (dog) has xmax < xmin" in w for w in ds.warnings)


def test_voc_flat_folder_falls_back_to_the_filename_field(tmp_path):
    folder = tmp_path / "flat"
    _image(folder / "pics" / "x.png")
    folder.mkdir(exist_ok=True)
    (folder / "x_annotation.xml").write_text(_voc_xml("x.png", [("cat", (1, 1, 5, 5), False)]))
    ds = open_dataset(folder)
    assert ds.gt.file_names == ("pics/x.png",) and ds.class_names == ("cat",)


def test_coco_file_and_folder_with_images_beside(tmp_path):
    _image(tmp_path / "val2017" / "1.jpg")
    (tmp_path / "annotations").mkdir()
    gt = {"images": [{"id": 5, "file_name": "1.jpg"}, {"id": 6, "file_name": "gone.jpg"}],
          "categories": [{"id": 3, "name": "cat"}],
          "annotations": [{"id": 1, "image_id": 5, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0}]}
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps(gt))
    ds = open_dataset(tmp_path / "annotations" / "instances_val2017.json")
    assert ds.format == "coco" and ds.image_paths[0] == (tmp_path / "val2017" / "1.jpg").resolve()
    assert ds.warnings == (f"1 of the 2 images of {tmp_path / 'annotations' / 'instances_val2017.json'} are not "
                           f"on disk (first: {(tmp_path / 'val2017' / 'gone.jpg').resolve()}).",)
    assert open_dataset(tmp_path / "annotations").num_images == 2


def test_what_is_not_a_dataset(tmp_path):
    with pytest.raises(AnnotationError, match="no such file"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(AnnotationError, match="not a dataset"):
        open_dataset(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="holds no dataset"):
        open_dataset(tmp_path / "empty")
