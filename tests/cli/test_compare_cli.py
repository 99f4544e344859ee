"""``detviewer compare``: the Δ table and worst images of a hand-made case (as in tests/evaluation/test_compare.py),
JSON, plots, one-sentence errors, and two demo models run over the demo dataset through the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detviewer.cli import main

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo" / "annotations.json"


@pytest.fixture()
def case(tmp_path):
    """Images 1..4: a cat | a dog and a cat | nothing | a dog. A misses the cat of image 2, B that of image 1."""
    gt = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in (1, 2, 3, 4)],
          "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
          "annotations": [{"id": n + 1, "image_id": img, "category_id": cat, "bbox": box, "area": 100, "iscrowd": 0}
                          for n, (img, cat, box) in enumerate([(1, 1, [0, 0, 10, 10]), (2, 2, [0, 0, 10, 10]),
                                                               (2, 1, [20, 20, 10, 10]), (4, 2, [0, 0, 10, 10])])]}

    def results(rows):
        return [{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in rows]

    a = results([(1, 1, [0, 0, 10, 10], 0.9), (2, 2, [0, 0, 10, 10], 0.8), (2, 1, [50, 50, 10, 10], 0.7),
                 (4, 2, [0, 0, 10, 10], 0.6)])
    b = results([(1, 1, [30, 30, 10, 10], 0.9), (2, 2, [0, 0, 10, 10], 0.6), (2, 1, [20, 20, 10, 10], 0.5),
                 (3, 2, [0, 0, 5, 5], 0.4), (3, 2, [50, 50, 5, 5], 0.35), (4, 2, [40, 40, 10, 10], 0.97),
                 (4, 2, [0, 0, 10, 10], 0.45)])
    paths = []
    for name, data in (("gt.json", gt), ("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(data))
        paths.append(str(tmp_path / name))
    return paths


def test_json_deltas_and_worst_images(case, capsys):
    gt, a, b = case
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--json", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"]["cat"]["dAP"] == pytest.approx(-25.5 / 101)
    assert out["classes"]["dog"]["dAP"] == pytest.approx(-1 / 3)
    assert out["classes"]["cat"]["drecall"] == 0.0 and out["a"]["score"] == out["b"]["score"] == 0.3
    assert [r["image_id"] for r in out["images"]] == [1, 4, 3, 2]  # ΔAP -1, -0.5, none, +0.5
    assert out["images"][2]["dAP"] is None and out["images"][2]["dnet"] == -2
    first = out["worst"][0]
    assert len(out["worst"]) == 2 and first["image_id"] == 1
    assert first["a_found_b_missed_objects"] == [{"gt_id": 1, "category": "cat", "bbox": [0.0, 0.0, 10.0, 10.0],
                                                  "detection": {"bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.9}}]
    assert first["b_found_a_missed_objects"] == []
    assert out["a"]["errors"]["counts"]["bkg"] == 1 and out["b"]["errors"]["counts"]["bkg"] == 4


def test_table_sorted_by_net_and_plots(case, tmp_path, capsys):
    gt, a, b = case
    plots = tmp_path / "plots"
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--score-b", "0.55", "--sort", "net",
                 "--plots", str(plots)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "A counted at score > 0.300, B at score > 0.550" in out
    lines = out.splitlines()
    cat = next(line for line in lines if line.startswith("cat "))
    assert cat.split()[-3:] == ["0.500", "0.000", "-0.500"]  # recall A, B, Δ
    start = next(i for i, line in enumerate(lines) if line.startswith("image "))
    assert [line.split()[0] for line in lines[start + 1:start + 5]] == ["1.jpg", "4.jpg", "3.jpg", "2.jpg"]
    assert sorted(p.name for p in plots.iterdir()) == ["class_deltas.png", "error_breakdown_ab.png"]
    assert "wrote 2 plots" in captured.err


@pytest.mark.parametrize("argv, words", [
    (["--gt", "{tmp}/missing.json", "{a}", "{b}"], "no such file"),
    (["--gt", "{gt}", "{a}", "nonsense-model"], "neither a COCO results .json nor a model"),
    (["--gt", "{gt}", "{a}", "{tmp}/missing.json"], "file not found"),
    (["--gt", "{gt}", "{a}", "{b}", "--iou", "1.5"], "--iou must lie in"),
    (["--gt", "{gt}", "{a}", "{b}", "--bootstrap", "-1"], "--bootstrap must be 0"),
    (["--gt", "{gt}", "{a}", "{b}", "--bootstrap", "1000000000"], "up to 100,000"),
])
def test_bad_input_is_one_sentence_and_exit_2(case, tmp_path, capsys, argv, words):
    gt, a, b = case
    argv = [s.format(tmp=tmp_path, gt=gt, a=a, b=b) for s in argv]
    assert main(["compare", *argv]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and words in errors[0]


def test_json_lists_every_object_fixed_and_broken_and_the_interval(case, capsys):
    gt, a, b = case
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--json", "--top", "0", "--bootstrap", "300",
                 "--seed", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    # B's b2 (0.5) finds image 2's cat A missed; A's a0 (0.9) finds image 1's cat B missed (--top 0: all anyway)
    assert out["objects"]["fixed"] == [{"image_id": 2, "file_name": "2.jpg", "gt_id": 3, "category": "cat",
                                        "bbox": [20.0, 20.0, 10.0, 10.0],
                                        "detection": {"bbox": [20.0, 20.0, 10.0, 10.0], "score": 0.5}}]
    assert [(o["image_id"], o["gt_id"], o["detection"]["score"]) for o in out["objects"]["broken"]] == [(1, 1, 0.9)]
    boot = out["bootstrap"]
    assert boot["resamples"] == 300 and boot["seed"] == 4 and boot["confidence"] == 0.95
    assert boot["dAP"]["delta"] == pytest.approx(out["mean"]["dAP"], abs=1e-12)
    assert boot["dAP"]["low"] <= boot["dAP"]["delta"] <= boot["dAP"]["high"]
    assert boot["dAP"]["low"] < 0 < boot["dAP"]["high"]  # four images: nothing is clear
    # dog: A finds every dog first (AP 1 wherever dogs are drawn), B never beats it; image 4 alone costs B 0.5
    low, high = out["classes"]["dog"]["dAP_interval"]
    assert low <= -1 / 3 - 1e-9 < high <= 0


def test_text_report_counts_the_objects_and_states_the_interval(case, capsys):
    gt, a, b = case
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--score-b", "0.55", "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Objects B fixed (B finds, A missed): 0; B broke (A found, B misses): 2") for line in lines)
    broken = [line.split() for line in lines if line.startswith("broken ")]
    assert broken == [["broken", "1.jpg", "cat", "0", "0", "10", "10", "0.900"]]  # --top 1: the most confident
    verdict = next(line for line in lines if line.startswith("ΔAP "))
    assert "95% interval [" in verdict and "1000 resamples of the 4 images, seed 0" in verdict
    header = next(line for line in lines if line.startswith("class "))
    assert "ΔAP 95%" in header


def test_bootstrap_zero_skips_the_interval(case, capsys):
    gt, a, b = case
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--bootstrap", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bootstrap"] is None and "dAP_interval" not in out["classes"]["cat"]
    assert main(["compare", "--gt", gt, a, b, "--score", "0.3", "--bootstrap", "0"]) == 0
    text = capsys.readouterr().out
    assert "ΔAP 95%" not in text and "interval" not in text


@pytest.mark.parametrize("low, high, words", [(0.01, 0.05, "B is better than A"), (-0.05, -0.01, "B is worse than A"),
                                              (-0.01, 0.02, "no clear difference")])
def test_verdict_reads_the_interval(low, high, words):
    from detviewer.cli.compare_report import verdict
    from detviewer.evaluation.bootstrap import BootstrapResult, Interval

    empty = np.zeros(0)
    result = BootstrapResult(resamples=10, seed=0, confidence=0.95, num_images=5, d_ap=empty, d_ap50=empty,
                             class_d_ap=empty.reshape(0, 1), class_d_ap50=empty.reshape(0, 1),
                             ap=Interval((low + high) / 2, low, high), ap50=Interval(0.0, -1.0, 1.0))
    assert words in verdict(result) and f"[{low:+.3f}, {high:+.3f}]" in verdict(result)


@pytest.mark.slow
def test_two_demo_models_on_the_demo_dataset_through_the_cache(tmp_path, capsys):
    cache = tmp_path / "cache"
    argv = ["compare", "--gt", str(DEMO), "demo-ssd", "demo-frcnn", "--cache", str(cache), "--threads", "1", "--json"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "(0 from the cache" in first.err
    out = json.loads(first.out)
    assert out["a"]["name"] == "demo-ssd" and out["b"]["name"] == "demo-frcnn"
    assert len(out["images"]) == 4 and set(out["classes"]) == {"circle", "square", "triangle", "star", "ring", "cross"}
    assert main(argv) == 0
    second = capsys.readouterr()
    assert "(4 from the cache" in second.err and json.loads(second.out) == out
