"""Classes by name: detect writes category names; eval / compare match them by name; detect --gt takes every
ground-truth form. The issue's case: detect on a VOC folder, then eval against it, scored 0.147 instead of 0.808
because detect wrote the model's ids and VOC numbers its classes alphabetically."""

from __future__ import annotations

import json

import pytest

from detviewer.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("byname")
    for layout in ("voc", "yolo"):
        assert main(["make-shapes", str(root / layout), "--count", "6", "--seed", "3", "--format", layout,
                     "--quiet"]) == 0
    return root


def _ap(capsys, *args) -> tuple[dict, str]:
    capsys.readouterr()
    assert main(["eval", *args, "--json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


@pytest.mark.parametrize("layout,images,gt", [("voc", "voc/JPEGImages", "voc"), ("yolo", "yolo/images", "yolo/data.yaml")])
def test_detect_then_eval_gives_the_models_own_ap(datasets, tmp_path, capsys, layout, images, gt):
    results = tmp_path / "r.json"
    assert main(["detect", str(datasets / images), "--model", "demo-frcnn", "--out", str(results), "--quiet"]) == 0
    rows = json.loads(results.read_text())
    assert rows and all(r["category_name"] in ("circle", "square", "triangle", "star", "ring", "cross") for r in rows)
    mapping = json.loads(results.with_name("r.images.json").read_text())
    assert {c["id"]: c["name"] for c in mapping["categories"]}[3] == "triangle"  # the model's own numbering
    direct, _ = _ap(capsys, "--model", "demo-frcnn", "--data", str(datasets / gt), "--no-cache")
    by_file, err = _ap(capsys, "--gt", str(datasets / gt), "--pred", str(results))
    assert by_file["stats"]["AP"] == pytest.approx(direct["stats"]["AP"], abs=1e-9)
    assert direct["stats"]["AP"] > 0.5
    ids_differ = layout == "voc"  # VOC: alphabetical ids; YOLO: data.yaml's order, the model's own
    assert ("numbers its classes differently" in err) == ids_differ
    if ids_differ:
        assert err.count("matched by name") == 1
        # without the names (only ids, as before) the same file scores far lower: the bug this fixes
        for row in rows:
            del row["category_name"]
        bare = tmp_path / "bare.json"
        bare.write_text(json.dumps(rows))
        by_id, _ = _ap(capsys, "--gt", str(datasets / gt), "--pred", str(bare))
        assert by_id["stats"]["AP"] < direct["stats"]["AP"] - 0.3


@pytest.mark.parametrize("gt", ["voc", "yolo/data.yaml", "yolo"])
def test_detect_gt_takes_every_form_eval_takes(datasets, tmp_path, capsys, gt):
    images = "voc/JPEGImages" if gt == "voc" else "yolo/images"
    results = tmp_path / "r.json"
    assert main(["detect", str(datasets / images), "--model", "demo-frcnn", "--gt", str(datasets / gt),
                 "--out", str(results), "--quiet"]) == 0
    rows = json.loads(results.read_text())
    from detviewer.io.datasets import open_dataset

    dataset = open_dataset(datasets / gt)
    names = dict(zip(dataset.gt.category_ids.tolist(), dataset.class_names))
    assert rows and all(names[r["category_id"]] == r["category_name"] for r in rows)  # the GT's ids
    assert {r["image_id"] for r in rows} <= set(dataset.gt.image_ids.tolist())
    by_file, err = _ap(capsys, "--gt", str(datasets / gt), "--pred", str(results))
    assert "numbers its classes differently" not in err
    direct, _ = _ap(capsys, "--model", "demo-frcnn", "--data", str(datasets / gt), "--no-cache")
    assert by_file["stats"]["AP"] == pytest.approx(direct["stats"]["AP"], abs=1e-9)


def test_compare_matches_by_name_too(datasets, tmp_path, capsys):
    results = tmp_path / "r.json"
    assert main(["detect", str(datasets / "voc/JPEGImages"), "--model", "demo-frcnn", "--out", str(results),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", "--gt", str(datasets / "voc"), str(results), str(results), "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert "matched by name" in out.err
    direct, _ = _ap(capsys, "--model", "demo-frcnn", "--data", str(datasets / "voc"), "--no-cache")
    assert report["a"]["AP"] == pytest.approx(direct["stats"]["AP"], abs=1e-9)  # the model's own AP on VOC
    assert report["b"]["AP"] == report["a"]["AP"]
