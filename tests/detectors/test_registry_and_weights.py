"""Model names, devices and the COCO weight download path (exercised with local files only)."""

import pytest
import torch
import torchvision

from detviewer.detectors import registry, weights
from detviewer.detectors.torchvision_models import coco_weights
from detviewer.errors import CheckpointError, DetectorError


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)

def test_every_issue_model_name_is_registered_with_its_capabilities():
    names = {m.name for m in registry.available_models()}
    assert {"fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
            "fasterrcnn_mobilenet_v3_large_320_fpn", "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2",
            "ssd300_vgg16", "ssdlite320_mobilenet_v3_large", "fcos_resnet50_fpn",
            "demo-frcnn", "demo-ssd", "demo-yolo"} <= names
    assert "proposals" in registry.model_info("fasterrcnn_resnet50_fpn").capabilities
    assert "default_boxes" in registry.model_info("ssd300_vgg16").capabilities
    assert "grid" in registry.model_info("demo-yolo").capabilities

def test_unknown_model_names_the_choices():
    with pytest.raises(DetectorError, match="Unknown model 'yolo9000'; choose one of: .*ssd300_vgg16"):
        registry.load_detector("yolo9000")

def test_devices_resolve_to_cpu_here_and_cuda_requests_get_a_sentence():
    assert registry.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert registry.resolve_device("cpu") == "cpu"
    with pytest.raises(DetectorError, match="Unknown device 'tpu'"):
        registry.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DetectorError, match="no CUDA GPU is available"):
            registry.resolve_device("cuda")

def test_missing_checkpoint_path_is_one_sentence(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        registry.load_detector("ssdlite320_mobilenet_v3_large", weights=str(tmp_path / "nope.pth"), device="cpu")

def test_download_copies_a_local_file_into_the_hub_cache_with_progress(tmp_path, hub_dir):
    payload = tmp_path / "source" / "tiny-0123abcd.pth"
    payload.parent.mkdir()
    payload.write_bytes(b"x" * (3 << 20))
    seen = []
    path = weights.download(payload.as_uri(), lambda f, msg: seen.append((f, msg)), model_name="tiny")
    assert path == hub_dir / "checkpoints" / "tiny-0123abcd.pth"
    assert path.read_bytes() == payload.read_bytes()
    assert seen[-1][0] == pytest.approx(1.0) and "Downloading tiny weights" in seen[-1][1]
    assert weights.is_cached(payload.as_uri())
    payload.unlink()  # a second call must not need the source any more
    assert weights.download(payload.as_uri()) == path

def test_offline_download_fails_with_one_sentence_naming_the_way_out(hub_dir, monkeypatch):
    monkeypatch.delenv("DETVIEWER_NO_DOWNLOAD", raising=False)
    url = "http://127.0.0.1:9/fasterrcnn-deadbeef.pth"  # nothing listens on the discard port
    with pytest.raises(DetectorError) as info:
        weights.download(url, model_name="fasterrcnn_resnet50_fpn", timeout=5)
    message = str(info.value)
    assert message.count("\n") == 0 and "--weights PATH" in message and "fasterrcnn_resnet50_fpn" in message
    assert not list((hub_dir / "checkpoints").glob("*.part"))

def test_coco_weights_load_from_the_cache_without_network(hub_dir, monkeypatch, textured_image):
    # Place a state dict where torchvision's builder looks; the hash in the real file name cannot
    # match our stand-in file, so only the hash check is switched off.
    name = "ssdlite320_mobilenet_v3_large"
    url = coco_weights(name).url
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    target = weights.cache_path(url)
    target.parent.mkdir(parents=True)
    torch.save(model.state_dict(), target)
    import torchvision.models._api as api

    real = api.load_state_dict_from_url
    monkeypatch.setattr(api, "load_state_dict_from_url", lambda u, *a, **k: real(u, *a, **{**k, "check_hash": False}))
    detector = registry.load_detector(name, weights="coco", device="cpu")
    assert detector.class_names[1] == "person" and len(detector.class_names) == 91
    for key, value in model.state_dict().items():
        assert torch.equal(detector.model.state_dict()[key].cpu(), value), key
    assert len(detector.infer(textured_image).anchors) == 6

def test_coco_weights_with_downloads_disabled_say_so(hub_dir):
    with pytest.raises(DetectorError, match="downloads are disabled"):
        registry.load_detector("ssdlite320_mobilenet_v3_large", weights="coco", device="cpu")
