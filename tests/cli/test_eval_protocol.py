"""eval's protocol line and its framework report: one line on stderr, ``protocol`` and ``framework`` in --json;
an unknown --protocol is one sentence and exit 2."""

from __future__ import annotations

import json

import pytest

from detviewer.cli import main


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("proto")
    assert main(["make-shapes", str(root), "--count", "3", "--seed", "4", "--size", "128", "--quiet"]) == 0
    return root / "annotations.json"


def test_unknown_protocol_is_one_sentence(shapes, capsys):
    assert main(["eval", "--gt", str(shapes), "--pred", str(shapes), "--protocol", "coco-2014"]) == 2
    err = capsys.readouterr().err
    assert "unknown protocol 'coco-2014'; choose one of ultralytics-val, ultralytics-predict, torchvision-reference" \
        in err and "Traceback" not in err


def test_model_run_names_its_protocol_and_a_results_file_can_ask_for_ultralytics_numbers(shapes, tmp_path, capsys):
    pred = tmp_path / "p.json"
    assert main(["eval", "--model", "demo-yolo", "--data", str(shapes), "--no-cache", "--json",
                 "--save-pred", str(pred)]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    lines = [line for line in out.err.splitlines() if line.startswith("protocol ")]
    assert lines == [report["protocol"]["summary"]]
    assert report["protocol"]["name"] == "detviewer-demo" and "score > 0.05" in lines[0]
    assert report["framework"]["name"] == "torchvision" and "pycocotools itself" in report["framework"]["sentence"]
    assert main(["eval", "--gt", str(shapes), "--pred", str(pred), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["protocol"] is None and plain["framework"] is None
    assert main(["eval", "--gt", str(shapes), "--pred", str(pred), "--protocol", "ultralytics-val"]) == 0
    text = capsys.readouterr().out
    assert "Ultralytics' own rules (yolo val): mAP50" in text
    sentence = text.strip().splitlines()[-1]
    assert sentence.startswith("Ultralytics' rules give mAP50") and sentence.endswith(".")
    assert f"pycocotools gives {plain['stats']['AP50']:.3f} / {plain['stats']['AP']:.3f}" in sentence
