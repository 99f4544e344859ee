"""A run's weights identity: the file behind every kind of weights, hashed by content (never the word "default")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from detviewer.detectors.weights_identity import run_settings, weights_file, weights_hash
from detviewer.io.content_hash import content_hash


def test_shipped_default_weights_are_the_checkpoint_file(tmp_path, monkeypatch):
    from detviewer import resources

    monkeypatch.setattr(resources, "models_dir", lambda: tmp_path)
    (tmp_path / "demo-ssd.pt").write_bytes(b"one")
    detector = SimpleNamespace(name="demo-ssd", weights="default")
    assert weights_file("demo-ssd", "default") == tmp_path / "demo-ssd.pt"
    first = weights_hash(detector)
    assert first == content_hash(tmp_path / "demo-ssd.pt", 16) and first != "default"
    (tmp_path / "demo-ssd.pt").write_bytes(b"two")  # the same name, other bytes: another identity
    assert weights_hash(detector) not in ("", first)


def test_torchvision_coco_weights_are_the_hub_file_and_random_weights_have_none(tmp_path):
    pytest.importorskip("torchvision")
    from detviewer.detectors import weights as hub
    from detviewer.detectors.torchvision_models import coco_weights

    expected = hub.cache_path(coco_weights("ssdlite320_mobilenet_v3_large").url)
    assert weights_file("ssdlite320_mobilenet_v3_large", "default") == expected
    assert weights_file("ssdlite320_mobilenet_v3_large", "coco") == expected
    assert weights_file("demo-ssd", "none") is None
    assert weights_hash(SimpleNamespace(name="demo-ssd", weights="none")) == ""
    user = tmp_path / "best.pt"
    user.write_bytes(b"w")
    assert weights_file("fasterrcnn_resnet50_fpn", str(user)) == user
    assert weights_hash(SimpleNamespace(name="x", weights=str(tmp_path / "missing.pt"))) == ""


def test_settings_name_the_models_own_nms():
    from detviewer.core.types import NMSParams

    a = SimpleNamespace(class_names=("a", "b"), nms=NMSParams(0.5, 0.05, False, 100))
    b = SimpleNamespace(class_names=("a", "b"), nms=NMSParams(0.7, 0.001, False, 300))
    assert run_settings(a) != run_settings(b) and "nms=0.5,0.05,0,100" in run_settings(a)
