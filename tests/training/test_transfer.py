"""demo-yolo can start from demo-frcnn's backbone: the copied layers compute the same features."""

import pytest
import torch

from detviewer.detectors.demo import build_demo_model, save_checkpoint
from detviewer.errors import CheckpointError
from detviewer.training.transfer import init_yolo_backbone_from_frcnn


def test_copied_backbone_gives_frcnn_features(tmp_path):
    torch.manual_seed(0)
    frcnn = build_demo_model("demo-frcnn").eval()
    path = tmp_path / "frcnn.pt"
    save_checkpoint(path, "demo-frcnn", frcnn, {"input_size": 256})
    yolo = build_demo_model("demo-yolo").eval()
    assert init_yolo_backbone_from_frcnn(yolo, path) == 7 * 6  # 7 conv+BN blocks, 6 tensors each
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        body = frcnn.backbone.body
        expected = x
        for stage in body.stages[:4]:
            expected = stage(expected)
        got = yolo.to_stride16(yolo.to_stride8(x))
    assert torch.allclose(got, expected, atol=1e-6)


def test_wrong_checkpoint_is_refused(tmp_path):
    path = tmp_path / "ssd.pt"
    save_checkpoint(path, "demo-ssd", build_demo_model("demo-ssd"), {})
    with pytest.raises(CheckpointError, match="holds a 'demo-ssd' model, not 'demo-frcnn'"):
        init_yolo_backbone_from_frcnn(build_demo_model("demo-yolo"), path)


def test_frozen_backbone_does_not_change_during_a_training_step():
    from detviewer.training.yolo_loss import yolo_v1_loss

    yolo = build_demo_model("demo-yolo")
    yolo.freeze_backbone()
    yolo.train()
    assert not yolo.to_stride8.training and not yolo.to_stride16.training and yolo.fuse.training
    before = {k: v.clone() for k, v in yolo.state_dict().items()}
    trainable = [p for p in yolo.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    target = [{"boxes": torch.tensor([[20.0, 30.0, 90.0, 80.0]]), "labels": torch.tensor([3])}]
    sum(yolo_v1_loss(yolo(torch.rand(1, 3, 224, 224)), target, 224).values()).backward()
    optimizer.step()
    after = yolo.state_dict()
    for key, value in before.items():
        same = torch.equal(value, after[key])
        assert same == key.startswith(("to_stride8.", "to_stride16.")), key
