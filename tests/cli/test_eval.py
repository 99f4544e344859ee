"""``detviewer eval``: exit codes, JSON keys and values against pycocotools, the human tables."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detviewer.cli import main

STAT_KEYS = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
             "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"]


def _dataset(seed: int = 0) -> tuple[dict, list[dict]]:
    """30 images, 4 classes (class 4 without GT, class 3 never predicted), crowds, ties."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "file_name": f"{i:03d}.jpg"} for i in range(1, 31)]
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "dog"},
            {"id": 4, "name": "kite"}]
    anns, results = [], []
    for img in images[:-3]:  # the last three images are empty
        for _ in range(rng.integers(0, 6)):
            w, h = (float(v) for v in np.round(np.exp(rng.uniform(2, 5, 2)), 1))
            box = [round(float(rng.uniform(0, 300)), 1), round(float(rng.uniform(0, 300)), 1), w, h]
            cat = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": box,
                         "area": w * h, "iscrowd": int(rng.random() < 0.1)})
            if cat != 3 and rng.random() < 0.8:
                jitter = [round(v + float(rng.normal(0, 2)), 1) for v in box[:2]]
                results.append({"image_id": img["id"], "category_id": cat, "bbox": jitter + box[2:],
                                "score": round(float(rng.random()), 1)})
        for _ in range(rng.integers(0, 3)):
            results.append({"image_id": img["id"], "category_id": int(rng.choice([1, 2, 4])),
                            "bbox": [float(v) for v in np.round(rng.uniform(0, 100, 4), 1)],
                            "score": round(float(rng.random()), 1)})
    return {"images": images, "annotations": anns, "categories": cats}, results


@pytest.fixture()
def files(tmp_path):
    gt, results = _dataset()
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(results))
    return gt_path, pred_path


def _pycocotools(gt_path, pred_path) -> tuple[COCOeval, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco_gt = COCO(str(gt_path))
        ev = COCOeval(coco_gt, coco_gt.loadRes(str(pred_path)), "bbox")
        ev.evaluate()
        ev.accumulate()
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        ev.summarize()
    return ev, summary.getvalue()


def test_json_matches_pycocotools(files, capsys):
    gt_path, pred_path = files
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"stats", "per_class", "classes", "operating_point", "errors", "interpolation", "protocol",
                        "framework"}
    assert out["protocol"] is None and out["framework"] is None  # a results file, no --protocol
    assert list(out["stats"]) == STAT_KEYS
    ref, _ = _pycocotools(gt_path, pred_path)
    np.testing.assert_allclose([out["stats"][k] for k in STAT_KEYS], ref.stats, rtol=0, atol=1e-9)
    assert list(out["per_class"]) == ["person", "car", "dog", "kite"]
    precision = ref.eval["precision"]
    for k, name in enumerate(out["per_class"]):
        p = precision[:, :, k, 0, 2]
        expected = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
        assert out["per_class"][name] == pytest.approx(expected, abs=1e-9)
    assert out["per_class"]["kite"] == -1.0   # no GT
    assert out["per_class"]["dog"] == 0.0     # GT, never predicted


def test_human_output_has_pycocotools_lines_and_class_table(files, capsys):
    gt_path, pred_path = files
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path)]) == 0
    out = capsys.readouterr().out
    _, summary = _pycocotools(gt_path, pred_path)
    ref_lines = [line for line in summary.splitlines() if line.startswith(" Average")]
    assert len(ref_lines) == 12
    for line in ref_lines:
        assert line in out.splitlines()
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class"))
    assert lines[header].split() == ["class", "AP", "AP50", "AP75", "GT", "dets"]
    table = [line.split() for line in lines[header + 1:header + 5]]
    assert [row[0] for row in table] == ["person", "car", "dog", "kite"]
    assert table[3][1:4] == ["-", "-", "-"]
    # columns are aligned: every row ends at the same width
    assert len({len(line) for line in lines[header:header + 5]}) == 1


def _voc_files(tmp_path):
    gt = {"images": [{"id": 1}, {"id": 2}],
          "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 0, 10, 10], "area": 100, "iscrowd": 1},
              {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}
    # ranked: TP, FP (GT already taken), ignored (crowd), FP, TP -> recall .5 .5 .5 .5 1,
    # precision 1 .5 .5 1/3 .5
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
               {"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.8},
               {"image_id": 1, "category_id": 1, "bbox": [20, 0, 10, 10], "score": 0.7},
               {"image_id": 2, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.6},
               {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 11], "score": 0.5}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    return tmp_path / "gt.json", tmp_path / "pred.json"


@pytest.mark.parametrize("metric, expected", [("voc", 0.5 * 1 + 0.5 * 0.5), ("voc07", (6 * 1 + 5 * 0.5) / 11)])
def test_voc_metrics(tmp_path, capsys, metric, expected):
    gt_path, pred_path = _voc_files(tmp_path)
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--metric", metric, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["per_class"]["a"] == pytest.approx(expected, abs=1e-12)
    assert out["per_class"]["b"] == -1.0
    assert out["stats"]["mAP"] == pytest.approx(expected, abs=1e-12)
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--metric", metric]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["a"][1] == f"{expected:.3f}" and rows["b"][1] == "-"
    assert rows["mAP"][1] == f"{expected:.3f}"


@pytest.mark.parametrize("which, content, needles", [
    ("pred", None, ["pred.json", "not found"]),
    ("pred", "[{]", ["pred.json", "not valid JSON", "line 1, column 3"]),
    ("pred", '[{"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]',
     ["pred.json", "image_id 99", "not in"]),
    ("gt", '{"images": []}', ["gt.json", "no 'annotations'"]),
])
def test_user_errors_are_one_line_exit_2(files, capsys, which, content, needles):
    gt_path, pred_path = files
    target = gt_path if which == "gt" else pred_path
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_annotation_id_zero_gets_a_note(files, capsys):
    gt_path, pred_path = files
    gt = json.loads(gt_path.read_text())
    gt["annotations"][0]["id"] = 0
    gt_path.write_text(json.dumps(gt))
    assert main(["eval", "--gt", str(gt_path), "--pred", str(pred_path), "--json"]) == 0
    captured = capsys.readouterr()
    ref, _ = _pycocotools(gt_path, pred_path)
    assert json.loads(captured.out)["stats"]["AP"] == pytest.approx(ref.stats[0], abs=1e-9)
    assert "id 0" in captured.err and "false positives" in captured.err


def test_missing_option_is_usage_error(capsys):
    assert main(["eval", "--gt", "gt.json"]) == 2
    assert "--pred" in capsys.readouterr().err


def test_eval_path_imports_neither_torch_nor_qt(files):
    gt_path, pred_path = files
    code = ("import sys\nfrom detviewer.cli import main\n"
            f"rc = main(['eval', '--gt', {str(gt_path)!r}, '--pred', {str(pred_path)!r}, '--json'])\n"
            "heavy = [m for m in ('torch', 'torchvision', 'PySide6', 'cv2') if m in sys.modules]\n"
            "sys.exit(10 + len(heavy) if heavy else rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stats"]["AP"] >= 0
