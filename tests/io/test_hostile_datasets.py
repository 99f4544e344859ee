"""Hostile datasets end in one sentence, within 2 GB and 20 s: a million class names or categories, a YAML alias
bomb, a file_name of /dev/zero or a pipe, a VOC <filename> that names an image already annotated, byte-order marks.

The heavy cases run ``detviewer eval`` in a subprocess whose address space is capped at 2 GiB (RLIMIT_AS) and
whose wall time is capped (a hang or a memory blow-up fails the test instead of the machine)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detviewer.errors import AnnotationError, ImageLoadError
from detviewer.io.annotations import load_coco_gt, read_json
from detviewer.io.datasets import open_dataset
from detviewer.io.images import check_image_file, load_image
from detviewer.io.limits import MAX_CLASSES
from detviewer.io.voc_xml import open_voc
from detviewer.io.yolo_txt import open_yolo_yaml

GIB = 1 << 30
REPO = Path(__file__).resolve().parents[2]


def _cli(*argv: str, timeout: float = 20.0, memory: int = 2 * GIB) -> tuple[int, str, float]:
    """Run ``detviewer ARGV`` capped at ``memory`` bytes of address space: (exit code, stderr, seconds)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "detviewer", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, preexec_fn=cap)
    return done.returncode, done.stderr, time.perf_counter() - start


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _pred(tmp_path: Path) -> Path:
    path = tmp_path / "pred.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]))
    return path


# ----------------------------------------------------------------------------- class count

def test_a_data_yaml_with_a_million_names_is_one_sentence(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("path: .\nval: images\nnames: [" + ",".join(f"c{i}" for i in range(10 ** 6)) + "]\n")
    code, err, _ = _cli("eval", "--gt", str(data), "--pred", str(_pred(tmp_path)))
    assert code == 2
    assert _error_lines(err) == [f"error: {data} holds more than 50,000 values; a data.yaml names at most "
                                 f"10,000 classes."]


def test_names_over_the_bound_are_refused_by_count(tmp_path):
    data = tmp_path / "data.yaml"
    names = {i: f"c{i}" for i in range(MAX_CLASSES + 1)}
    data.write_text("path: .\nval: images\nnames:\n" + "".join(f"  {i}: {n}\n" for i, n in names.items()))
    with pytest.raises(AnnotationError, match=r"names 10,001 classes; detviewer evaluates at most 10,000\.$"):
        open_yolo_yaml(data)


def test_a_coco_file_with_a_million_categories_is_one_sentence(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "1.jpg"}], "annotations": [],
                              "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 10 ** 6 + 1)]}))
    code, err, _ = _cli("eval", "--gt", str(gt), "--pred", str(_pred(tmp_path)))
    assert code == 2
    assert _error_lines(err) == [f"error: {gt} names 1,000,000 classes; detviewer evaluates at most 10,000."]


@pytest.mark.slow
def test_a_coco_file_at_the_class_bound_evaluates_within_2_gb(tmp_path):
    """10,000 categories: the confusion matrix keeps its non-zero cells (a dense (K+1)² would be 800 MB)."""
    rng = np.random.default_rng(0)
    k = MAX_CLASSES
    images = [{"id": i, "file_name": f"{i}.jpg"} for i in range(1, 21)]
    anns, results = [], []
    for img in images:
        for _ in range(5):
            cat, xy = int(rng.integers(1, k + 1)), [float(v) for v in rng.uniform(0, 300, 2)]
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": xy + [40, 40],
                         "area": 1600, "iscrowd": 0})
            results.append({"image_id": img["id"], "category_id": cat, "bbox": [xy[0] + 1, xy[1], 40, 40],
                            "score": 0.9})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns,
                              "categories": [{"id": i, "name": f"c{i}"} for i in range(1, k + 1)]}))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    code, err, _ = _cli("eval", "--gt", str(gt), "--pred", str(tmp_path / "pred.json"), "--json", timeout=120)
    assert code == 0, err


# ----------------------------------------------------------------------------- YAML aliases

def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ["path: .", "val: images", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("names: *i")
    data = tmp_path / "data.yaml"
    data.write_text("\n".join(lines) + "\n")
    code, err, seconds = _cli("eval", "--gt", str(data), "--pred", str(_pred(tmp_path)))
    assert code == 2
    assert _error_lines(err) == [f"error: {data} uses the alias *a of a list or mapping; detviewer does not expand "
                                 f"such aliases in a data.yaml (write the values out)."]


def test_aliases_of_scalars_still_work(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (32, 24)).save(tmp_path / "images" / "1.png")
    data = tmp_path / "data.yaml"
    data.write_text("path: &root .\nval: images\nnames: [&cat cat, dog]\nalias_of_root: *root\nagain: *cat\n")
    assert open_yolo_yaml(data).class_names == ("cat", "dog")


# ----------------------------------------------------------------------------- regular files

@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


def test_reading_a_device_or_a_pipe_as_json_is_one_sentence(fifo):
    with pytest.raises(AnnotationError, match=r"^/dev/zero is a device, not a regular file; a JSON file must be one"):
        read_json("/dev/zero")
    with pytest.raises(AnnotationError, match=r"pipe\.json is a pipe, not a regular file"):
        open_dataset(fifo)  # opening a pipe with no writer would wait forever


def test_an_image_path_that_is_a_device_or_a_pipe(fifo):
    for path, kind in (("/dev/zero", "a device"), (fifo, "a pipe")):
        with pytest.raises(ImageLoadError, match=f"it is {kind}, not a regular file"):
            check_image_file(path)
        with pytest.raises(ImageLoadError, match=f"it is {kind}, not a regular file"):
            load_image(path)


@pytest.mark.slow
def test_a_coco_file_name_of_dev_zero_or_a_pipe_does_not_hang_a_model_run(tmp_path):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "images" / "ok.png")
    os.mkfifo(tmp_path / "images" / "pipe.png")
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "ok.png"}, {"id": 2, "file_name": "/dev/zero"},
                   {"id": 3, "file_name": "pipe.png"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20], "area": 400}],
        "categories": [{"id": 1, "name": "circle"}]}))
    code, err, _ = _cli("eval", "--model", "demo-ssd", "--device", "cpu", "--threads", "1", "--data", str(gt),
                        "--no-cache", timeout=120, memory=8 * GIB)  # torch's import reserves address space
    assert "/dev/zero" in err and "it is a device, not a regular file" in err
    assert "pipe.png" in err and "it is a pipe, not a regular file" in err
    assert "Traceback" not in err and code in (0, 1), err


def test_a_yolo_label_that_is_a_pipe_leaves_its_image_out(tmp_path):
    for stem in ("1", "2"):
        Image.new("RGB", (40, 30)).save((tmp_path / "images").mkdir(exist_ok=True) or tmp_path / "images" / f"{stem}.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    os.mkfifo(tmp_path / "labels" / "2.txt")
    (tmp_path / "data.yaml").write_text("path: .\nval: images\nnames: [a]\n")
    dataset = open_yolo_yaml(tmp_path / "data.yaml")
    assert dataset.num_images == 1
    assert any("2.txt is a pipe, not a regular file" in w for w in dataset.warnings)


def test_an_annotation_file_over_its_size_bound(tmp_path, monkeypatch):
    import detviewer.io.annotations as annotations

    monkeypatch.setattr(annotations, "MAX_JSON_BYTES", 100)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [], "annotations": [], "categories": [], "pad": "x" * 200}))
    with pytest.raises(AnnotationError, match=r"gt\.json is 2\d\d bytes, more than the 100 bytes detviewer reads "
                                              r"from a JSON file\.$"):
        load_coco_gt(gt)


# ----------------------------------------------------------------------------- VOC

def _voc_xml(filename: str, name: str = "cat") -> str:
    return (f"<annotation><filename>{filename}</filename><object><name>{name}</name><bndbox><xmin>2</xmin>"
            f"<ymin>2</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")


def test_a_voc_filename_fallback_does_not_count_an_image_twice(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "JPEGImages" / "a.jpg")
    (tmp_path / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg"))
    (tmp_path / "Annotations" / "copy_of_a.xml").write_text(_voc_xml("a.jpg", "dog"))  # no copy_of_a.jpg
    dataset = open_voc(tmp_path)
    assert dataset.num_images == 1 and dataset.gt.boxes.xywh.shape[0] == 1
    assert any("copy_of_a.xml: its <filename> a.jpg is the image of" in w for w in dataset.warnings)


def test_a_voc_image_set_listing_a_stem_twice_counts_it_once(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    Image.new("RGB", (40, 30)).save(tmp_path / "JPEGImages" / "a.jpg")
    (tmp_path / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg"))
    (tmp_path / "ImageSets" / "Main" / "val.txt").write_text("a\na\n")
    assert open_voc(tmp_path).num_images == 1


# ----------------------------------------------------------------------------- byte-order marks

BOM = "\ufeff"


def test_byte_order_marks_are_tolerated(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 50)).save(tmp_path / "images" / "1.png")
    (tmp_path / "labels" / "1.txt").write_text(BOM + "1 0.5 0.5 0.2 0.4\n", encoding="utf-8")
    (tmp_path / "data.yaml").write_text(BOM + "path: .\nval: images\nnames: [cat, dog]\n", encoding="utf-8")
    dataset = open_yolo_yaml(tmp_path / "data.yaml")
    assert dataset.class_names == ("cat", "dog") and not dataset.warnings
    np.testing.assert_allclose(dataset.gt.boxes.xywh, [[40, 15, 20, 20]])
    assert dataset.gt.category_ids[dataset.gt.boxes.category_index].tolist() == [2]
    # classes.txt beside the labels
    (tmp_path / "data.yaml").unlink()
    (tmp_path / "classes.txt").write_text(BOM + "cat\ndog\n", encoding="utf-8")
    assert open_dataset(tmp_path).class_names == ("cat", "dog")
    # COCO JSON
    gt = tmp_path / "gt.json"
    gt.write_text(BOM + json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "cat"}]}),
                  encoding="utf-8")
    assert load_coco_gt(gt).category_names == ("cat",)
