"""``detviewer anchors``: the demo models on the demo dataset (JSON agrees with the engine, plots), image sizes
from headers when the COCO file has none, and one-sentence errors for anchor-free models and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detviewer.cli import main

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo" / "annotations.json"


def test_demo_frcnn_json_agrees_with_the_engine_and_plots(tmp_path, capsys):
    from detviewer.detectors.demo import build_demo_model
    from detviewer.evaluation.coverage import anchor_coverage
    from detviewer.io.datasets import open_dataset
    from detviewer.ops.model_anchors import TorchvisionAnchors

    plots = tmp_path / "plots"
    assert main(["anchors", "--model", "demo-frcnn", "--gt", str(DEMO), "--json", "--plots", str(plots)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    dataset = open_dataset(DEMO)
    sizes = np.array([[320, 320]] * dataset.num_images)  # annotations.json: every demo image is 320 x 320
    engine = anchor_coverage(TorchvisionAnchors(build_demo_model("demo-frcnn").eval(), "demo-frcnn"), dataset.boxes,
                             sizes, dataset.class_names)
    assert out["positive_iou"] == 0.7 and "RPN" in out["rule"] and out["objects"] == len(engine) == 20
    assert out["below"] == int(engine.below.sum()) == len(out["uncovered"])
    assert out["share_below"] == pytest.approx(engine.share_below)
    assert [u["gt_id"] for u in out["uncovered"]] == dataset.boxes.ids[engine.uncovered()].tolist()
    assert sum(c["objects"] for c in out["classes"].values()) == 20
    assert sum(s["objects"] for s in out["sizes"].values()) == 20
    assert out["input_sizes"] == [{"height": 256, "width": 256, "objects": 20}]
    assert out["suggestion"]["anchors"].startswith("AnchorGenerator(")
    assert sum(out["suggestion"]["level_objects"]) == 20 and len(out["suggestion"]["prototypes_wh"]) == 4
    assert sorted(p.name for p in plots.iterdir()) == ["best_iou_histogram.png", "object_shapes.png"]


def test_text_report_for_the_demo_ssd(capsys):
    assert main(["anchors", "--model", "demo-ssd", "--gt", str(DEMO), "--no-suggest"]) == 0
    out = capsys.readouterr().out
    assert "SSD: a default box is positive at IoU >= 0.5" in out and "DefaultBoxGenerator(" in out
    assert "Suggestion" not in out and "small (< 32²)" in out


def test_image_sizes_come_from_the_headers_when_the_coco_file_has_none(tmp_path, capsys):
    data = json.loads(DEMO.read_text())
    for image in data["images"]:
        image.pop("width", None), image.pop("height", None)
        shutil.copy(DEMO.parent / image["file_name"], tmp_path / image["file_name"])
    (tmp_path / "gt.json").write_text(json.dumps(data))
    argv = ["anchors", "--model", "demo-frcnn", "--gt", str(tmp_path / "gt.json"), "--json", "--no-suggest"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["input_sizes"] == [{"height": 256, "width": 256, "objects": 20}]
    (tmp_path / data["images"][0]["file_name"]).unlink()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 of the 4 images have no size" in captured.err
    assert json.loads(captured.out)["objects"] == 20 - sum(a["image_id"] == data["images"][0]["id"]
                                                           for a in data["annotations"])


@pytest.mark.parametrize("model, words", [
    ("fcos_resnet50_fpn", "FCOS is anchor-free"),
    ("demo-yolo", "no anchor coverage to measure"),
    ("not-a-model", "Unknown model"),
])
def test_models_without_anchors_are_one_sentence(model, words, capsys):
    assert main(["anchors", "--model", model, "--gt", str(DEMO)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.strip().count("\n") == 0


def test_missing_ground_truth_is_one_sentence(tmp_path, capsys):
    assert main(["anchors", "--model", "demo-ssd", "--gt", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
