"""Shapes generator: determinism, exact boxes, size/overlap variety, COCO validity, CLI."""

import hashlib
import json

import numpy as np
import pytest

from detviewer.cli import main
from detviewer.datasets import shapes
from detviewer.datasets.shapes import SHAPE_CLASSES, ShapesConfig, generate_scene, scenes_to_coco

CFG = ShapesConfig(size=128)


def test_same_seed_same_scene_other_seed_other_scene():
    a, b = generate_scene(3, 5, CFG), generate_scene(3, 5, CFG)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes) and np.array_equal(a.labels, b.labels)
    c, d = generate_scene(4, 5, CFG), generate_scene(3, 6, CFG)
    assert not np.array_equal(a.image, c.image) and not np.array_equal(a.image, d.image)


def test_annotations_are_valid_and_varied():
    cfg = ShapesConfig(size=256)
    scenes = [generate_scene(11, i, cfg) for i in range(60)]
    sides, labels, overlapping_pairs = [], [], 0
    for s in scenes:
        assert s.image.shape == (256, 256, 3) and s.image.dtype == np.uint8
        assert cfg.min_objects <= len(s.boxes) <= cfg.max_objects or len(s.boxes) >= 1
        x0, y0, x1, y1 = s.boxes.T
        assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= 256).all() and (y1 <= 256).all()
        assert (x1 > x0).all() and (y1 > y0).all()
        assert ((s.labels >= 1) & (s.labels <= len(SHAPE_CLASSES))).all()
        assert (s.visible >= 1 - cfg.max_occlusion - 1e-3).all()
        sides.append(np.maximum(x1 - x0, y1 - y0))
        labels.append(s.labels)
        for i in range(len(s.boxes)):
            for j in range(i + 1, len(s.boxes)):
                a, b = s.boxes[i], s.boxes[j]
                overlapping_pairs += min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
    sides = np.concatenate(sides)
    # longer side within the configured range (+1 px for the rounding of polygon vertices)
    assert sides.min() >= cfg.min_side * 256 - 1 and sides.max() <= cfg.max_side * 256 + 1
    areas = np.concatenate([(s.boxes[:, 2] - s.boxes[:, 0]) * (s.boxes[:, 3] - s.boxes[:, 1]) for s in scenes])
    # COCO's small / medium / large ranges are all represented
    assert (areas < 32 ** 2).sum() > 20 and ((areas >= 32 ** 2) & (areas < 96 ** 2)).sum() > 20 and (areas >= 96 ** 2).sum() > 5
    assert set(np.concatenate(labels).tolist()) == set(range(1, len(SHAPE_CLASSES) + 1))
    assert overlapping_pairs > 10


@pytest.mark.parametrize("label", range(1, len(SHAPE_CLASSES) + 1))
def test_box_is_the_extent_of_the_drawn_shape(label):
    # independent check of the box convention (pixel i spans [i, i+1)): every pixel the shape
    # touches lies inside the box rounded outwards, and the box's sides are touched to within
    # a pixel (+ the 1/4 px supersampling for sharp tips)
    rng = np.random.default_rng(label)
    for _ in range(10):
        polygons, box = shapes._place(label, rng, ShapesConfig(size=128))
        ys, xs = np.nonzero(shapes._mask(polygons, 128) > 0)
        touched = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
        assert (touched[:2] >= np.floor(box[:2] - 0.25)).all() and (touched[2:] <= np.ceil(box[2:] + 0.25)).all()
        assert np.abs(touched - box).max() <= 1.25, (touched, box)


@pytest.mark.parametrize("radius", [5.0, 12.3, 40.0])
def test_rendered_shape_is_not_biased_outwards(radius):
    # covered area = polygon area (shoelace) within 0.15 px along the perimeter; cv2's LINE_AA fill
    # would add ~0.6 px all around, which makes boxes too tight for the drawn shapes
    poly = shapes._regular(64, radius) + np.array([60.3, 61.7])
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    perimeter = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1).sum()
    assert abs(shapes._mask([poly], 128).sum() - area) <= 0.15 * perimeter


def test_coco_export_loads_in_pycocotools():
    from pycocotools.coco import COCO

    scenes = [generate_scene(0, i, CFG) for i in range(4)]
    coco = scenes_to_coco(scenes, [f"{i}.png" for i in range(4)])
    api = COCO()
    api.dataset = coco
    api.createIndex()
    assert len(api.getImgIds()) == 4
    assert len(api.getAnnIds()) == sum(len(s.boxes) for s in scenes)
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == list(SHAPE_CLASSES)
    first = api.loadAnns(api.getAnnIds(imgIds=[1]))[0]
    x, y, w, h = first["bbox"]
    assert first["area"] == pytest.approx(w * h, rel=1e-3)
    assert [x, y, x + w, y + h] == pytest.approx(scenes[0].boxes[0].tolist(), abs=1e-3)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_make_shapes_cli_is_deterministic(tmp_path, capsys):
    assert main(["make-shapes", str(tmp_path / "a"), "--count", "3", "--seed", "9", "--size", "96", "--quiet"]) == 0
    assert main(["make-shapes", str(tmp_path / "b"), "--count", "3", "--seed", "9", "--size", "96", "--quiet"]) == 0
    assert "wrote 3 images" in capsys.readouterr().out
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    coco = json.loads((tmp_path / "a" / "annotations.json").read_text())
    assert [im["file_name"] for im in coco["images"]] == [f"shapes_9_{i:05d}.png" for i in range(3)]
    assert all(im["width"] == 96 for im in coco["images"])
    scene = generate_scene(9, 2, ShapesConfig(size=96))
    import cv2

    on_disk = cv2.imread(str(tmp_path / "a" / "shapes_9_00002.png"))[:, :, ::-1]
    assert np.array_equal(on_disk, scene.image)


def test_make_shapes_cli_errors(tmp_path, capsys):
    assert main(["make-shapes", str(tmp_path / "x"), "--count", "0"]) == 2
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["make-shapes", str(blocker), "--count", "1", "--size", "64"]) == 2
    err = capsys.readouterr().err
    assert "--count must be at least 1" in err and "is not a folder" in err
    assert "Traceback" not in err
