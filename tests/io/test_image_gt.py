"""Ground truth of one image: finding the COCO file beside images, boxes by path, labels by class name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detviewer.errors import AnnotationError
from detviewer.io.image_gt import ImageGroundTruth, find_annotations, unused_annotations_sentence

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo"


def _coco(images, annotations, categories=((1, "cat"), (2, "dog"))):
    return {"images": [{"id": i, "file_name": f} for i, f in images],
            "categories": [{"id": c, "name": n} for c, n in categories],
            "annotations": [{"id": k + 1, "image_id": im, "category_id": c, "bbox": list(b), "iscrowd": crowd}
                            for k, (im, c, b, crowd) in enumerate(annotations)]}


def test_find_annotations_beside_images_or_in_the_parent(tmp_path):
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(b"")
    assert find_annotations([images / "a.png"]) == []
    (tmp_path / "data" / "instances_val.json").write_text("{}")
    assert find_annotations([images / "a.png"]) == [tmp_path / "data" / "instances_val.json"]
    assert find_annotations([images]) == [tmp_path / "data" / "instances_val.json"]  # a folder, then its parent
    (images / "_annotations.coco.json").write_text("{}")  # Roboflow's export name, beside the images: first
    assert find_annotations([images / "a.png"]) == [images / "_annotations.coco.json",
                                                    tmp_path / "data" / "instances_val.json"]
    assert find_annotations([DEMO])[0] == DEMO / "annotations.json"


def test_find_annotations_in_cocos_own_layout(tmp_path):
    (tmp_path / "val2017").mkdir()
    (tmp_path / "annotations").mkdir()
    for name in ("instances_train2017.json", "instances_val2017.json"):
        (tmp_path / "annotations" / name).write_text("{}")
    assert find_annotations([tmp_path / "val2017"]) == [tmp_path / "annotations" / "instances_train2017.json",
                                                        tmp_path / "annotations" / "instances_val2017.json"]


def test_boxes_by_path_with_labels_mapped_by_class_name(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    data = _coco([(7, "a.png"), (8, "b.png")],
                 [(7, 2, (10, 20, 30, 40), 0), (7, 1, (0, 0, 5, 5), 0), (7, 1, (50, 50, 10, 10), 1), (8, 1, (1, 1, 2, 2), 0)],
                 categories=((1, "Cat"), (2, "dog"), (3, "zebra")))
    (tmp_path / "gt.json").write_text(json.dumps(data))
    truth = ImageGroundTruth.load(tmp_path / "gt.json")
    boxes = truth.boxes_for(tmp_path / "a.png", ("__background__", "cat", "bird", "dog"))
    # xywh -> xyxy, file order, the crowd region flagged; "Cat" matches "cat" case-insensitively
    np.testing.assert_allclose(boxes.xyxy, [[10, 20, 40, 60], [0, 0, 5, 5], [50, 50, 60, 60]])
    assert boxes.labels.tolist() == [3, 1, 1] and boxes.names == ("dog", "Cat", "Cat")
    assert boxes.crowd.tolist() == [False, False, True]
    pair_boxes, pair_labels = boxes.as_pair  # the teaching views get the objects only
    assert len(pair_boxes) == 2 and pair_labels.tolist() == [3, 1]
    assert truth.boxes_for(tmp_path / "b.png", ("__background__", "dog")).labels.tolist() == [-1]  # no "cat"
    assert truth.boxes_for(tmp_path / "other.png", ()) is None
    assert truth.boxes_for(None, ()) is None


def test_two_images_with_the_same_base_name_give_no_boxes(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.png").write_bytes(b"")
    data = _coco([(1, "train/a.png"), (2, "val/a.png")], [(1, 1, (0, 0, 1, 1), 0)])
    (tmp_path / "gt.json").write_text(json.dumps(data))
    assert ImageGroundTruth.load(tmp_path / "gt.json").boxes_for(tmp_path / "x" / "a.png", ("cat",)) is None


def test_a_bad_file_is_one_sentence(tmp_path):
    (tmp_path / "gt.json").write_text("[1, 2")
    with pytest.raises(AnnotationError, match="is not valid JSON"):
        ImageGroundTruth.load(tmp_path / "gt.json")


def test_demo_ground_truth_matches_the_demo_models_classes():
    from detviewer.detectors.demo import DEMO_CLASSES

    truth = ImageGroundTruth.load(DEMO / "annotations.json")
    boxes = truth.boxes_for(DEMO / "shapes_7_00000.png", ("__background__",) + tuple(DEMO_CLASSES))
    assert len(boxes) > 0 and (boxes.labels >= 1).all()
    assert [DEMO_CLASSES[i - 1] for i in boxes.labels] == list(boxes.names)


def test_unused_annotation_files_make_one_sentence_without_double_stops(tmp_path):
    (tmp_path / "annotations.json").write_text("{bad")
    with pytest.raises(AnnotationError) as info:
        ImageGroundTruth.load(tmp_path / "annotations.json")
    error = str(info.value)
    assert error.endswith(".")  # a whole sentence, as every DetviewerError
    sentence = unused_annotations_sentence([f"cannot use annotations.json: {error}", "instances_val.json does not list them"])
    assert sentence == ("No ground truth for these images: cannot use annotations.json: "
                        f"{error[:-1]}; instances_val.json does not list them.")
    assert ".." not in sentence and ".;" not in sentence
    assert unused_annotations_sentence(["big.json is 80 MB (open it yourself)"]) == \
        "No ground truth for these images: big.json is 80 MB (open it yourself)."


def test_search_takes_the_nearest_file_that_lists_the_images_and_says_why_others_were_not(tmp_path, monkeypatch):
    import detviewer.io.image_gt as image_gt

    folder = tmp_path / "val"
    folder.mkdir()
    image = folder / "a.png"
    image.write_bytes(b"")
    (folder / "annotations.json").write_text(json.dumps(_coco([(1, "other.png")], [])))
    (folder / "instances_big.json").write_text(" " * 2000 + json.dumps(_coco([(1, "a.png")], [])))
    (tmp_path / "annotations.json").write_text("{not json")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val.json").write_text(
        json.dumps(_coco([(7, "a.png")], [(7, 2, (1, 2, 3, 4), 0)])))
    monkeypatch.setattr(image_gt, "MAX_AUTO_BYTES", 1000)
    truth, reasons = image_gt.search_ground_truth([folder], [image], folder)
    assert truth is not None and truth.path == tmp_path / "annotations" / "instances_val.json"
    assert truth.image_id(image) == 7
    assert reasons[0] == "annotations.json does not list them"
    assert reasons[1].startswith("instances_big.json is 0 MB")
    assert reasons[2].startswith("cannot use annotations.json:")
    nothing, why = image_gt.search_ground_truth([folder], [folder / "missing.png"], folder)
    assert nothing is None and len(why) == 4
