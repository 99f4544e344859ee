"""COCO ground-truth / results loading, one-sentence errors, result writing and image matching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detviewer.core.types import Detections
from detviewer.errors import AnnotationError, DetviewerError
from detviewer.io.annotations import category_ids_by_name, coco_gt_from_dict, load_coco_gt, match_image_ids
from detviewer.io.coco_results import coco_results_from_detections, coco_results_from_list, load_coco_results


def gt_dict() -> dict:
    return {
        "images": [{"id": 7, "file_name": "b/img7.jpg"}, {"id": 2, "file_name": "a/img2.jpg"},
                   {"id": 5, "file_name": "img5.png"}],
        "categories": [{"id": 3, "name": "cat"}, {"id": 1, "name": "Dog"}],
        "annotations": [
            {"id": 10, "image_id": 7, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 11.5, "iscrowd": 0},
            {"id": 11, "image_id": 2, "category_id": 1, "bbox": [0.5, 0, 10, 20], "iscrowd": 1},
            {"id": 12, "image_id": 7, "category_id": 1, "bbox": [5, 5, 0, 8], "area": 0, "difficult": True,
             "iscrowd": False},
        ],
    }


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def assert_one_sentence(exc: pytest.ExceptionInfo, *needles: str) -> None:
    msg = str(exc.value)
    assert isinstance(exc.value, DetviewerError)
    assert "\n" not in msg and msg.endswith("."), msg
    for needle in needles:
        assert needle in msg, msg


# ----------------------------------------------------------------------------- ground truth


def test_gt_arrays_sorted_by_id_like_pycocotools(tmp_path):
    gt = load_coco_gt(write(tmp_path, "gt.json", gt_dict()))
    assert gt.image_ids.tolist() == [2, 5, 7]
    assert gt.file_names == ("a/img2.jpg", "img5.png", "b/img7.jpg")
    assert gt.category_ids.tolist() == [1, 3] and gt.category_names == ("Dog", "cat")
    b = gt.boxes
    assert b.ids.tolist() == [10, 11, 12]                    # file order kept
    assert b.image_index.tolist() == [2, 0, 2]
    assert b.category_index.tolist() == [1, 0, 0]
    assert b.xywh.dtype == np.float64 and b.xywh[1].tolist() == [0.5, 0, 10, 20]
    assert b.area.tolist() == [11.5, 200.0, 0.0]             # missing area -> w * h
    assert b.crowd.tolist() == [False, True, False]          # missing iscrowd -> 0
    assert b.difficult.tolist() == [False, True, True]       # crowd or difficult
    xyxy, cats, crowd = gt.annotations_of(7)
    assert xyxy.tolist() == [[1, 2, 4, 6], [5, 5, 5, 13]] and cats.tolist() == [3, 1]


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError) as exc:
        load_coco_gt(tmp_path / "nope.json")
    assert_one_sentence(exc, "nope.json", "not found")


def test_invalid_json_names_line_and_column(tmp_path):
    path = write(tmp_path, "gt.json", '{"images": [],\n  "annotations": [}')
    with pytest.raises(AnnotationError) as exc:
        load_coco_gt(path)
    assert_one_sentence(exc, "gt.json", "not valid JSON", "line 2, column 19")


@pytest.mark.parametrize("data, needles", [
    ([], ("not a COCO ground-truth file", "top level is an array (a results file?)")),
    ({"images": [], "categories": []}, ("no 'annotations' list",)),
    ({"images": {}, "annotations": [], "categories": []}, ("'images' is an object, not an array",)),
    ({"images": [{"file_name": "x"}], "annotations": [], "categories": []}, ("images[0] has no 'id'",)),
    ({"images": [{"id": "7"}], "annotations": [], "categories": []}, ("images[0] has id \"7\"", "integer")),
    ({"images": [1], "annotations": [], "categories": []}, ("images[0] is a number, not an object",)),
    ({"images": [{"id": 1}, {"id": 1}], "annotations": [], "categories": []}, ("image id 1", "more than once")),
])
def test_bad_gt_structure(tmp_path, data, needles):
    with pytest.raises(AnnotationError) as exc:
        load_coco_gt(write(tmp_path, "gt.json", data))
    assert_one_sentence(exc, "gt.json", *needles)


@pytest.mark.parametrize("change, needles", [
    ({"bbox": [1, 2, 3]}, ("annotations[0] has bbox [1, 2, 3]", "not 4 finite numbers")),
    ({"bbox": [1, 2, "3", 4]}, ("annotations[0]", "not 4 finite numbers")),
    ({"bbox": "1 2 3 4"}, ("annotations[0]", "not 4 finite numbers")),
    ({"bbox": [1, 2, -3, 4]}, ("annotations[0]", "negative width or height")),
    ({"category_id": 99}, ("annotation 10 has category_id 99", "not in 'categories'")),
    ({"image_id": 99}, ("annotation 10 has image_id 99", "not in 'images'")),
    ({"area": "big"}, ("annotations[0] has area \"big\"",)),
    ({"id": 11}, ("annotation id 11", "more than once")),
    ({"iscrowd": "no"}, ("annotations[0] has iscrowd \"no\"", "not 0 or 1")),
])
def test_bad_gt_annotation(tmp_path, change, needles):
    data = gt_dict()
    data["annotations"][0].update(change)
    with pytest.raises(AnnotationError) as exc:
        load_coco_gt(write(tmp_path, "gt.json", data))
    assert_one_sentence(exc, "gt.json", *needles)


def test_gt_annotation_missing_bbox(tmp_path):
    data = gt_dict()
    del data["annotations"][2]["bbox"]
    with pytest.raises(AnnotationError) as exc:
        load_coco_gt(write(tmp_path, "gt.json", data))
    assert_one_sentence(exc, "annotations[2] has no 'bbox'")


# ----------------------------------------------------------------------------- results


def test_results_indices_refer_to_gt(tmp_path):
    gt = coco_gt_from_dict(gt_dict())
    results = [{"image_id": 5, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5},
               {"image_id": 2, "category_id": 1, "bbox": [1.5, 2, 3, 4], "score": 1}]
    r = load_coco_results(write(tmp_path, "pred.json", results), gt)
    assert len(r) == 2
    assert r.boxes.image_index.tolist() == [1, 0] and r.boxes.category_index.tolist() == [1, 0]
    assert r.boxes.scores.tolist() == [0.5, 1.0] and r.boxes.area.tolist() == [1.0, 12.0]


def test_empty_results_are_fine():
    r = coco_results_from_list([], coco_gt_from_dict(gt_dict()))
    assert len(r) == 0 and r.boxes.xywh.shape == (0, 4)


@pytest.mark.parametrize("data, needles", [
    (gt_dict(), ("not a COCO results file", "looks like a ground-truth file")),
    ("x", ("not a COCO results file", "top level is a string")),
    ([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}], ("results[0] has no 'score'",)),
    ([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1], "score": 1}], ("results[0] has bbox [0, 0, 1]",)),
    ([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": None}], ("results[0] has score null",)),
    ([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1},
      {"image_id": 2, "category_id": 4, "bbox": [0, 0, 1, 1], "score": 0.1}],
     ("results[1] has category_id 4", "which is not in gt.json")),
    ([{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1}] * 3,
     ("results[0] has image_id 9", "not in gt.json", "3 results in all")),
    ([{"image_id": 2.0, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1}], ("image_id 2.0", "not a 64-bit integer")),
])
def test_bad_results(data, needles):
    gt = coco_gt_from_dict(gt_dict(), source="gt.json")
    with pytest.raises(AnnotationError) as exc:
        coco_results_from_list(data, gt, source="pred.json")
    assert_one_sentence(exc, "pred.json", *needles)


# ----------------------------------------------------------------------------- writing results


def test_results_from_detections_round_trip():
    dets = Detections(np.array([[10, 20, 30, 60], [0, 0, 5, 5], [1, 1, 2, 2]], np.float32),
                      np.array([0.9, 0.5, 0.25], np.float32), np.array([1, 0, 2]), ("background", "dog", "CAT"))
    gt = coco_gt_from_dict(gt_dict())
    mapping = category_ids_by_name(dets.class_names, gt)
    assert mapping == {1: 1, 2: 3}  # "dog" ~ "Dog", "CAT" ~ "cat"; background has none
    out = coco_results_from_detections(7, dets, mapping)
    assert out == [{"image_id": 7, "category_id": 1, "bbox": [10.0, 20.0, 20.0, 40.0], "score": 0.8999999761581421},
                   {"image_id": 7, "category_id": 3, "bbox": [1.0, 1.0, 1.0, 1.0], "score": 0.25}]
    json.dumps(out)  # plain Python numbers only
    r = coco_results_from_list(out, gt)
    assert r.boxes.xywh.tolist() == [[10, 20, 20, 40], [1, 1, 1, 1]]
    # without a mapping labels are category ids
    assert [d["category_id"] for d in coco_results_from_detections(7, dets)] == [1, 0, 2]
    assert coco_results_from_detections(7, Detections.empty()) == []


# ----------------------------------------------------------------------------- image matching


def test_match_by_relative_path_then_base_name(tmp_path):
    gt_path = write(tmp_path, "gt.json", gt_dict())
    gt = load_coco_gt(gt_path)
    (tmp_path / "b").mkdir()
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    ids = match_image_ids([tmp_path / "b" / "img7.jpg", tmp_path / "a" / "img2.jpg", elsewhere / "img5.png"], gt)
    assert ids == [7, 2, 5]
    assert match_image_ids([elsewhere / "unknown.jpg"], gt, allow_missing=True) == [None]
    with pytest.raises(AnnotationError) as exc:
        match_image_ids([elsewhere / "unknown.jpg"], gt)
    assert_one_sentence(exc, "unknown.jpg", "gt.json")


def test_match_prefers_exact_path_over_ambiguous_base_name(tmp_path):
    data = gt_dict()
    data["images"].append({"id": 8, "file_name": "c/img7.jpg"})
    gt = load_coco_gt(write(tmp_path, "gt.json", data))
    assert match_image_ids([tmp_path / "c" / "img7.jpg"], gt) == [8]
    with pytest.raises(AnnotationError) as exc:
        match_image_ids([tmp_path / "elsewhere" / "img7.jpg"], gt)
    assert_one_sentence(exc, "img7.jpg", "matches 2 images", "b/img7.jpg", "c/img7.jpg")
