"""detviewer.io.checkpoints against real torchvision models built with weights=None.

Expected architectures and class counts are the arguments the models were built with;
parameter counts come from ``model.parameters()``; legacy key layouts are checked against
torchvision's own ``load_state_dict`` upgrade hooks.
"""

from __future__ import annotations

import argparse
import builtins
import errno
import os
import pickle
import subprocess
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models import detection, mobilenet_v3_small, resnet18

from detviewer.errors import CheckpointError, DetviewerError
from detviewer.io.checkpoints import (
    TORCHVISION_ARCHITECTURES,
    check_compatible,
    count_parameters,
    infer_architecture,
    is_torchscript,
    load_checkpoint,
    normalize_state_dict,
)

MOBILENET = "fasterrcnn_mobilenet_v3_large_fpn"
MOBILENET_320 = "fasterrcnn_mobilenet_v3_large_320_fpn"


def build(arch: str, num_classes: int = 91) -> torch.nn.Module:
    return getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=num_classes)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def assert_one_sentence(exc: DetviewerError, path: Path | None, *words: str) -> None:
    msg = str(exc)
    assert "\n" not in msg and msg.endswith("."), msg
    if path is not None:
        assert str(path) in msg, msg
    for word in words:
        assert word.lower() in msg.lower(), msg


@pytest.fixture(scope="module")
def ssdlite():
    """(model, state_dict) of a 4-class ssdlite320_mobilenet_v3_large (2.2 M parameters)."""
    model = build("ssdlite320_mobilenet_v3_large", num_classes=4)
    return model, model.state_dict()


@pytest.fixture(scope="module")
def mobilenet_sd():
    return build(MOBILENET_320, num_classes=91).state_dict()


# ------------------------------------------------------------------------ every architecture

# A different class count per architecture, so that a mix-up between rules shows.
CASES = [(arch, 3 + i) for i, arch in enumerate(TORCHVISION_ARCHITECTURES) if arch != MOBILENET_320]


def light(state_dict) -> OrderedDict:
    """Same keys, shapes and dtypes, but each value a stride-0 view of one element.

    torch.save stores the one-element storage, so a 170 MB state dict becomes a few KB file
    while load_checkpoint sees exactly the keys and shapes the model has.
    """
    return OrderedDict((k, torch.zeros((), dtype=v.dtype).expand(v.shape)) for k, v in state_dict.items())


@pytest.mark.parametrize("arch, num_classes", CASES)
def test_every_architecture_is_recognised(tmp_path, arch, num_classes):
    model = build(arch, num_classes)
    path = tmp_path / f"{arch}.pth"
    torch.save(light(model.state_dict()), path)
    assert path.stat().st_size < 2_000_000
    ckpt = load_checkpoint(path)
    assert ckpt.format == "state_dict"
    assert ckpt.architecture == arch
    assert ckpt.num_classes == num_classes
    assert ckpt.class_names is None and ckpt.args is None and ckpt.torchscript_module is None
    assert ckpt.parameter_count == n_params(model)
    assert list(ckpt.state_dict) == list(model.state_dict())
    check_compatible(model, ckpt.state_dict)


def test_real_weights_round_trip(tmp_path, ssdlite):
    model, sd = ssdlite
    path = tmp_path / "real.pth"
    torch.save(sd, path)
    ckpt = load_checkpoint(path)
    assert all(torch.equal(ckpt.state_dict[k], v) for k, v in sd.items())
    fresh = build(ckpt.architecture, ckpt.num_classes)
    fresh.load_state_dict(ckpt.state_dict)  # strict
    assert torch.equal(fresh.head.classification_head.module_list[0][1].weight,
                       model.head.classification_head.module_list[0][1].weight)


def test_mobilenet_320_is_ambiguous_and_can_be_settled(tmp_path, mobilenet_sd):
    path = tmp_path / "m.pth"
    torch.save(light(mobilenet_sd), path)
    ckpt = load_checkpoint(path)
    assert ckpt.architecture == MOBILENET and ckpt.num_classes == 91
    assert len(ckpt.notes) == 1 and "320" in ckpt.notes[0] and "assuming" in ckpt.notes[0]
    asked = load_checkpoint(path, architecture=MOBILENET_320)
    assert asked.architecture == MOBILENET_320 and asked.notes == ()


@pytest.mark.parametrize("arch", ["fasterrcnn_resnet50_fpn", MOBILENET_320])
def test_reference_script_checkpoint(tmp_path, arch):
    model = build(arch, num_classes=91)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[16, 22], gamma=0.1)
    args = argparse.Namespace(model=arch, data_path="/data/coco", dataset="coco", lr=0.02, epochs=26,
                              weights=None, output_dir=".")
    path = tmp_path / "checkpoint.pth"
    torch.save({"model": light(model.state_dict()), "optimizer": optimizer.state_dict(),
                "lr_scheduler": scheduler.state_dict(), "args": args, "epoch": 25}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.format == "reference-script"
    assert ckpt.architecture == arch  # args.model settles the mobilenet 320 ambiguity too
    assert ckpt.notes == ()
    assert ckpt.num_classes == 91
    assert ckpt.args["model"] == arch and ckpt.args["lr"] == 0.02
    assert ckpt.meta == {"epoch": 25}
    assert ckpt.parameter_count == n_params(model)
    # the Namespace was allowed for that load only, not registered globally
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


def test_weights_win_over_a_wrong_args_model(tmp_path, ssdlite):
    path = tmp_path / "renamed.pth"
    torch.save({"model": light(ssdlite[1]), "args": argparse.Namespace(model="ssd300_vgg16"), "epoch": 0}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.architecture == "ssdlite320_mobilenet_v3_large"
    assert len(ckpt.notes) == 1 and "ssd300_vgg16" in ckpt.notes[0]


@pytest.mark.parametrize(
    "wrap, fmt",
    [
        (lambda sd: {"model": sd}, "wrapped"),
        (lambda sd: {"state_dict": sd, "epoch": 3}, "wrapped"),
        (lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {}}, "wrapped"),
        (lambda sd: OrderedDict((f"module.{k}", v) for k, v in sd.items()), "state_dict"),
        (lambda sd: {"model": OrderedDict((f"module._orig_mod.{k}", v) for k, v in sd.items())}, "wrapped"),
    ],
    ids=["model", "state_dict", "model_state_dict", "ddp-prefix", "ddp-compiled-prefix"],
)
def test_wrappers_and_prefixes(tmp_path, ssdlite, wrap, fmt):
    model, sd = ssdlite
    path = tmp_path / "w.pt"
    torch.save(wrap(sd), path)
    ckpt = load_checkpoint(path)
    assert ckpt.format == fmt
    assert ckpt.architecture == "ssdlite320_mobilenet_v3_large" and ckpt.num_classes == 4
    assert list(ckpt.state_dict) == list(sd)
    model.load_state_dict(ckpt.state_dict)


def test_legacy_serialization_format(tmp_path, ssdlite):
    _, sd = ssdlite
    path = tmp_path / "legacy.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    assert load_checkpoint(path).architecture == "ssdlite320_mobilenet_v3_large"


def test_legacy_torchvision_keys_are_renamed_like_torchvision_does():
    """RetinaNet heads and RPNHead had other key names before torchvision 0.13."""
    retina = build("retinanet_resnet50_fpn", num_classes=5)
    new = retina.state_dict()
    old = OrderedDict()
    for k, v in new.items():
        for head in ("head.classification_head.", "head.regression_head."):
            for i in range(4):
                k = k.replace(f"{head}conv.{i}.0.", f"{head}conv.{2 * i}.")
        old[k] = v
    assert "head.classification_head.conv.6.weight" in old  # really the old layout
    fresh = build("retinanet_resnet50_fpn", num_classes=5)
    fresh.load_state_dict(old)  # torchvision's own hook accepts the old layout ...
    normalized = normalize_state_dict(old)
    assert list(normalized) == list(new)  # ... and we produce the new one
    assert infer_architecture(normalized) == ("retinanet_resnet50_fpn", 5, [])
    check_compatible(fresh, old)

    with torch.device("meta"):
        frcnn = build("fasterrcnn_resnet50_fpn", num_classes=3).state_dict()
    old_rpn = OrderedDict((k.replace("rpn.head.conv.0.0.", "rpn.head.conv."), v) for k, v in frcnn.items())
    assert "rpn.head.conv.weight" in old_rpn
    assert list(normalize_state_dict(old_rpn)) == list(frcnn)


def test_frozen_batchnorm_checkpoints_without_num_batches_tracked(ssdlite):
    model, sd = ssdlite
    frozen_style = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    check_compatible(model, frozen_style)
    assert infer_architecture(frozen_style)[0] == "ssdlite320_mobilenet_v3_large"


# ------------------------------------------------------------------------ check_compatible


def test_check_compatible_names_the_first_problem(ssdlite):
    model, sd = ssdlite
    ninety_one = build("ssdlite320_mobilenet_v3_large", num_classes=91)
    with pytest.raises(CheckpointError) as info:
        check_compatible(ninety_one, sd)
    assert_one_sentence(info.value, None, "head.classification_head.module_list.0.1.weight",
                        "different number of classes", "(24, 672, 1, 1)", "(546, 672, 1, 1)")

    missing = {k: v for k, v in sd.items() if k != "backbone.extra.0.0.0.weight"}
    with pytest.raises(CheckpointError) as info:
        check_compatible(model, missing)
    assert_one_sentence(info.value, None, "lacks 1 of the model's keys", "backbone.extra.0.0.0.weight")

    extra = dict(sd, **{"head.extra.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError) as info:
        check_compatible(model, extra)
    assert_one_sentence(info.value, None, "1 key", "head.extra.weight")


# ------------------------------------------------------------------------ demo format


def test_demo_checkpoint_with_own_architecture(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    path = tmp_path / "demo.pth"
    torch.save({"format": "detviewer-demo", "arch": "shapes_ssd", "class_names": ["__background__", "circle", "square"],
                "meta": {"input_size": 256, "ap50": 0.97}, "model": net.state_dict()}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.format == "detviewer-demo" and ckpt.format_label == "detviewer demo checkpoint"
    assert ckpt.architecture == "shapes_ssd"
    assert ckpt.class_names == ("__background__", "circle", "square") and ckpt.num_classes == 3
    assert ckpt.meta["input_size"] == 256
    assert ckpt.parameter_count == n_params(net)
    with pytest.raises(CheckpointError, match="holds shapes_ssd weights, not ssd300_vgg16"):
        load_checkpoint(path, architecture="ssd300_vgg16")


def test_demo_checkpoint_with_torchvision_architecture_is_verified(tmp_path, ssdlite):
    _, sd = ssdlite
    names = ["__background__", "a", "b", "c"]
    good = tmp_path / "good.pth"
    torch.save({"format": "detviewer-demo", "arch": "ssdlite320_mobilenet_v3_large", "class_names": names,
                "meta": {}, "model": sd}, good)
    ckpt = load_checkpoint(good)
    assert (ckpt.architecture, ckpt.num_classes, ckpt.class_names) == ("ssdlite320_mobilenet_v3_large", 4, tuple(names))

    lying = tmp_path / "lying.pth"
    torch.save({"format": "detviewer-demo", "arch": "ssd300_vgg16", "class_names": names, "meta": {}, "model": sd},
               lying)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(lying)
    assert_one_sentence(info.value, lying, "declares ssd300_vgg16", "ssdlite320_mobilenet_v3_large")

    no_names = tmp_path / "no_names.pth"
    torch.save({"format": "detviewer-demo", "arch": "x", "class_names": "cat", "model": sd}, no_names)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(no_names)
    assert_one_sentence(info.value, no_names, "class_names")


# ------------------------------------------------------------------------ TorchScript


@pytest.fixture(scope="module")
def scripted_path(tmp_path_factory):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    path = tmp_path_factory.mktemp("ts") / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(net), str(path))
    return path, n_params(net)


def test_torchscript_is_refused_unless_allowed(scripted_path):
    path, params = scripted_path
    assert is_torchscript(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "TorchScript module", "code", "allow")

    ckpt = load_checkpoint(path, allow_torchscript=True)
    assert ckpt.format == "torchscript" and ckpt.format_label == "TorchScript module"
    assert ckpt.architecture is None and ckpt.parameter_count == params
    out = ckpt.torchscript_module(torch.zeros(1, 3, 5, 5))
    assert out.shape == (1, 4, 3, 3)


def test_torch_save_archive_is_not_torchscript(tmp_path, ssdlite):
    path = tmp_path / "sd.pth"
    torch.save(ssdlite[1], path)
    assert not is_torchscript(path)


# ------------------------------------------------------------------------ failures


class _Exploit:
    """Pickles as 'call exec(code)': the classic checkpoint attack."""

    def __init__(self, marker: Path):
        self.code = f"open({str(marker)!r}, 'w').close()"

    def __reduce__(self):
        return (exec, (self.code,))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    # Control: the payload really runs code when unpickled without restrictions.
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Exploit(control)))
    assert control.exists()

    marker = tmp_path / "marker"
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps({"model": _Exploit(marker)}, protocol=4))
    wrapped = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "args": _Exploit(marker)}, wrapped)
    for path in (plain, wrapped):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert_one_sentence(info.value, path, "unsafe", "exec")
        assert not marker.exists()


def test_pickled_model_object_is_refused_with_a_hint(tmp_path, ssdlite):
    path = tmp_path / "whole_model.pth"
    torch.save(ssdlite[0], path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "pickled python object", "unsafe", "state_dict")


@pytest.mark.parametrize(
    "net, words",
    [(resnet18, ["resnet18 classifier", "1000 classes", "no detection head"]),
     (mobilenet_v3_small, ["classifier weights", "1000 classes", "no detection head"])],
    ids=["resnet18", "mobilenet_v3_small"],
)
def test_classifier_weights(tmp_path, net, words):
    path = tmp_path / "cls.pth"
    torch.save(net(weights=None).state_dict(), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, *words)


def test_resnet_backbone_without_head(tmp_path):
    sd = {k: v for k, v in resnet18(weights=None).state_dict().items() if not k.startswith("fc.")}
    path = tmp_path / "backbone.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "resnet18 backbone", "no detection head")


def test_unknown_architecture(tmp_path):
    path = tmp_path / "unknown.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3), "decoder.bias": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "unknown architecture", "encoder.weight")


def test_detector_head_with_unexpected_layout_is_reported(tmp_path, ssdlite):
    sd = dict(ssdlite[1], **{"backbone.features.99.weight": torch.zeros(1)})
    path = tmp_path / "odd.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "looks like ssdlite320_mobilenet_v3_large", "backbone.features.99.weight")


def test_mismatched_requested_architecture(tmp_path, ssdlite):
    path = tmp_path / "ssdlite.pth"
    torch.save(ssdlite[1], path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, architecture="retinanet_resnet50_fpn")
    assert_one_sentence(info.value, path, "holds ssdlite320_mobilenet_v3_large weights, not retinanet_resnet50_fpn")


def test_missing_folder_empty_text(tmp_path):
    cases = {
        tmp_path / "missing.pth": "does not exist",
        tmp_path: "folder",
    }
    (tmp_path / "empty.pth").write_bytes(b"")
    cases[tmp_path / "empty.pth"] = "empty"
    (tmp_path / "notes.pth").write_text("epoch 3: loss 0.25\n")
    cases[tmp_path / "notes.pth"] = "not a PyTorch checkpoint: it contains text"
    for path, words in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert_one_sentence(info.value, path, words)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_truncated_file(tmp_path, ssdlite, zip_format):
    full = tmp_path / "full.pth"
    torch.save(ssdlite[1], full, _use_new_zipfile_serialization=zip_format)
    data = full.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, "truncated")


def test_dict_without_state_dict(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "note": "hello"}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert_one_sentence(info.value, path, '"epoch"', "no state dict")


def test_permission_denied(tmp_path, ssdlite, monkeypatch):
    path = tmp_path / "locked.pth"
    torch.save({"w": torch.zeros(1)}, path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root: simulate what the OS does for other users
        real_open = builtins.open

        def denying_open(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and Path(os.fsdecode(file)) == path:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", denying_open)
    try:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
    finally:
        path.chmod(0o644)
    assert_one_sentence(info.value, path, "permission denied")


def test_count_parameters_skips_batchnorm_statistics():
    sd = {"conv.weight": torch.zeros(4, 3, 3, 3), "bn.weight": torch.zeros(4), "bn.bias": torch.zeros(4),
          "bn.running_mean": torch.zeros(4), "bn.running_var": torch.zeros(4),
          "bn.num_batches_tracked": torch.zeros((), dtype=torch.long)}
    assert count_parameters(sd) == 4 * 3 * 3 * 3 + 4 + 4


class _NMS(torch.nn.Module):
    def forward(self, boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return torchvision.ops.nms(boxes, scores, 0.5)


def test_fresh_process_without_qt_loads_scripted_torchvision_ops(tmp_path):
    """io/ never imports Qt, and a TorchScript file calling torchvision ops loads in a process
    that has not imported torchvision itself (the ops must be registered first)."""
    path = tmp_path / "nms.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(_NMS()), str(path))
    code = (
        "import sys, torch\n"
        "import detviewer.io.images, detviewer.io.checkpoints, detviewer.cli.inspect_cmd\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken'))]\n"
        "assert not bad, bad\n"
        "assert 'torchvision' not in sys.modules\n"
        "ckpt = detviewer.io.checkpoints.load_checkpoint(sys.argv[1], allow_torchscript=True)\n"
        "boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])\n"
        "keep = ckpt.torchscript_module(boxes, torch.tensor([0.9, 0.8, 0.7]))\n"
        "assert keep.tolist() == [0, 2], keep\n"  # IoU of the first two is 81/100 > 0.5
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
