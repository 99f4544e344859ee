"""``detviewer eval`` on YOLO / VOC datasets, with --plots, and with --model over a dataset (the demo SSD)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from detviewer.cli import main


@pytest.fixture()
def yolo(tmp_path):
    """4 images 200 x 100, one or two objects each; Ultralytics-style predictions (int(stem), class + 1)."""
    root = tmp_path / "ds"
    objects = {1: [(0, 0.25, 0.5, 0.2, 0.4)], 2: [(1, 0.5, 0.5, 0.3, 0.3), (0, 0.8, 0.3, 0.1, 0.2)],
               3: [(1, 0.3, 0.6, 0.2, 0.2)], 4: []}
    preds = []
    for stem, objs in objects.items():
        img = root / "images" / "val" / f"{stem}.jpg"
        img.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (200, 100)).save(img)
        lab = root / "labels" / "val" / f"{stem}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text("".join(f"{c} {x} {y} {w} {h}\n" for c, x, y, w, h in objs))
        for c, x, y, w, h in objs:
            box = [(x - w / 2) * 200 + 2, (y - h / 2) * 100, w * 200, h * 100]
            preds.append({"image_id": stem, "category_id": c + 1, "bbox": box, "score": 0.9})
    preds.append({"image_id": 4, "category_id": 1, "bbox": [10, 10, 30, 30], "score": 0.7})  # background
    preds.append({"image_id": 3, "category_id": 1, "bbox": [40, 50, 40, 20], "score": 0.8})  # wrong class
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: [cat, dog]\n")
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    return root / "data.yaml", tmp_path / "pred.json"


def test_yolo_data_yaml_json_and_plots(yolo, tmp_path, capsys):
    data, pred = yolo
    plots = tmp_path / "plots"
    assert main(["eval", "--gt", str(data), "--pred", str(pred), "--json", "--score", "0.5", "--plots",
                 str(plots)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    # both true positives of each class outscore its false positives: AP50 is 1 (boxes 2 px off: IoU > 0.8)
    assert out["stats"]["AP50"] == 1.0 and out["stats"]["AP75"] == 1.0
    assert out["classes"]["cat"] == {**out["classes"]["cat"], "tp": 2, "fp": 2, "fn": 0, "gt": 2}
    assert out["classes"]["dog"]["tp"] == 2 and out["classes"]["dog"]["fn"] == 0
    assert out["errors"]["counts"] == {"cls": 1, "loc": 0, "both": 0, "dupe": 0, "bkg": 1, "missed": 0}
    assert out["operating_point"]["score"] == 0.5
    names = sorted(p.name for p in plots.iterdir())
    assert names == sorted(["pr_curve_50.png", "pr_curve_50_95.png", "f1_curve.png", "confusion_matrix.png",
                            "confusion_matrix_normalized.png", "error_breakdown.png"])
    assert "wrote 6 plots" in captured.err


def test_voc_folder_as_ground_truth(tmp_path, capsys):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    Image.new("RGB", (100, 100)).save(root / "JPEGImages" / "a.jpg")
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>dog</name><bndbox><xmin>11</xmin><ymin>11</ymin>"
        "<xmax>51</xmax><ymax>41</ymax></bndbox></object></annotation>")
    (root / "Annotations" / "b.xml").write_text("<annotation><object>")
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps([{"image_id": "a", "category_id": 1, "bbox": [10, 10, 40, 30], "score": 0.9}]))
    assert main(["eval", "--gt", str(root), "--pred", str(pred), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stats"]["AP"] == pytest.approx(1.0)
    assert captured.err.count("warning: ") == 1 and "b.xml is not valid XML" in captured.err


def test_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--model", "demo-ssd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --model needs --data") and "\n" not in err
    (tmp_path / "d.yaml").write_text("names: [a]\nval: missing\n")
    assert main(["eval", "--gt", str(tmp_path / "d.yaml"), "--pred", str(tmp_path / "p.json")]) == 2
    assert "neither a folder nor a .txt list" in capsys.readouterr().err


@pytest.mark.slow
def test_model_over_a_dataset_then_from_the_cache(tmp_path, capsys):
    assert main(["make-shapes", str(tmp_path / "shapes"), "--count", "4", "--seed", "7", "--quiet"]) == 0
    argv = ["eval", "--model", "demo-ssd", "--device", "cpu", "--threads", "1", "--data", str(tmp_path / "shapes"),
            "--cache", str(tmp_path / "cache"), "--json", "--save-pred", str(tmp_path / "pred.json")]
    capsys.readouterr()
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "(0 from the cache" in first.err
    assert json.loads(first.out)["stats"]["AP50"] > 0.5
    assert main(argv) == 0
    second = capsys.readouterr()
    assert "(4 from the cache" in second.err and json.loads(second.out) == json.loads(first.out)
    # the saved predictions evaluate to the same numbers without the model
    assert main(["eval", "--gt", str(tmp_path / "shapes" / "annotations.json"), "--pred", str(tmp_path / "pred.json"),
                 "--json"]) == 0
    np.testing.assert_allclose(list(json.loads(capsys.readouterr().out)["stats"].values()),
                               list(json.loads(first.out)["stats"].values()))
