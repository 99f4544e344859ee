"""`detviewer inspect` run in-process through detviewer.cli.main."""

from __future__ import annotations

import argparse
import json
import pickle
import warnings

import pytest
import torch
from torchvision.models import detection, resnet18

from detviewer.cli import main


@pytest.fixture(scope="module")
def ssdlite():
    model = detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3)
    return model.state_dict(), sum(p.numel() for p in model.parameters())


def run(capsys, *argv):
    code = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name!r} line in:\n{out}")


def test_reference_script_checkpoint(tmp_path, capsys, ssdlite):
    sd, params = ssdlite
    path = tmp_path / "checkpoint.pth"
    torch.save({"model": sd, "optimizer": {}, "lr_scheduler": {}, "epoch": 12,
                "args": argparse.Namespace(model="ssdlite320_mobilenet_v3_large", lr=0.15)}, path)
    code, out, err = run(capsys, path)
    assert code == 0 and err == ""
    assert field(out, "format") == "torchvision reference-script checkpoint (epoch 12)"
    assert field(out, "architecture") == "ssdlite320_mobilenet_v3_large"
    assert field(out, "classes") == "3"
    assert field(out, "class names") == "not stored in the checkpoint"
    assert field(out, "parameters") == f"{params:,}"


def test_demo_checkpoint_lists_class_names_and_json(tmp_path, capsys, ssdlite):
    sd, params = ssdlite
    path = tmp_path / "demo.pth"
    names = ["__background__", "circle", "square"]
    torch.save({"format": "detviewer-demo", "arch": "ssdlite320_mobilenet_v3_large", "class_names": names,
                "meta": {"input_size": 320}, "model": sd}, path)
    code, out, _ = run(capsys, path)
    assert code == 0
    assert field(out, "format") == "detviewer demo checkpoint"
    assert field(out, "class names") == "__background__, circle, square"

    code, out, _ = run(capsys, path, "--json")
    assert code == 0
    facts = json.loads(out)
    assert facts["class_names"] == names and facts["num_classes"] == 3 and facts["parameters"] == params


def test_torchscript_is_reported_not_loaded_unless_allowed(tmp_path, capsys):
    net = torch.nn.Linear(4, 2)
    path = tmp_path / "scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(net), str(path))
    code, out, _ = run(capsys, path)
    assert code == 0
    assert field(out, "format") == "TorchScript module"
    assert "--allow-torchscript" in field(out, "note")

    code, out, _ = run(capsys, path, "--allow-torchscript")
    assert code == 0
    assert field(out, "format") == "TorchScript module"
    assert field(out, "architecture") == "unknown"
    assert field(out, "parameters") == "10"  # 4 * 2 weights + 2 biases


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: torch.save(resnet18(weights=None).state_dict(), p), "no detection head"),
        (lambda p: p.write_text("hello\n"), "not a PyTorch checkpoint"),
        (lambda p: p.write_bytes(pickle.dumps(print)), "unsafe"),
        (lambda p: None, "does not exist"),
    ],
    ids=["classifier", "text", "unsafe", "missing"],
)
def test_diagnosis_is_one_line_with_exit_2(tmp_path, capsys, make, words):
    path = tmp_path / "bad.pth"
    make(path)
    code, out, err = run(capsys, path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err
    assert words.lower() in err.lower()
    assert "Traceback" not in err


def test_wrong_architecture_requested(tmp_path, capsys, ssdlite):
    path = tmp_path / "w.pth"
    torch.save(ssdlite[0], path)
    code, _, err = run(capsys, path, "--arch", "fcos_resnet50_fpn")
    assert code == 2
    assert "holds ssdlite320_mobilenet_v3_large weights, not fcos_resnet50_fpn" in err


def test_usage_error_exits_2(capsys):
    assert main(["inspect"]) == 2
