"""A torchvision model's anchors for any input size, read from its own transform, backbone, generator and matcher
(weights=None: nothing is downloaded), against what the model computes on real tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.detection import (
    fasterrcnn_resnet50_fpn,
    fcos_resnet50_fpn,
    retinanet_resnet50_fpn,
    ssdlite320_mobilenet_v3_large,
)

from detviewer.detectors.demo import build_demo_model
from detviewer.errors import DetectorError
from detviewer.ops.model_anchors import TorchvisionAnchors

NO_WEIGHTS = dict(weights=None, weights_backbone=None)


@pytest.fixture(scope="module")
def models():
    return {"demo-frcnn": build_demo_model("demo-frcnn").eval(), "demo-ssd": build_demo_model("demo-ssd").eval(),
            "ssdlite": ssdlite320_mobilenet_v3_large(**NO_WEIGHTS).eval()}


def _real_anchors(model, image_hw):
    """What the model's forward computes: transform, backbone, anchor generator on real (zero) tensors."""
    with torch.no_grad():
        images, _ = model.transform([torch.zeros(3, *image_hw)])
        features = model.backbone(images.tensors)
        features = list(features.values()) if isinstance(features, dict) else [features]
        generator = model.rpn.anchor_generator if hasattr(model, "rpn") else model.anchor_generator
        return tuple(images.image_sizes[0]), generator(images, features)[0].numpy()


@pytest.mark.parametrize("name", ["demo-frcnn", "demo-ssd", "ssdlite"])
@pytest.mark.parametrize("image_hw", [(256, 256), (300, 517), (480, 211)])
def test_input_size_and_anchors_equal_the_models_own(models, name, image_hw):
    model = models[name]
    source = TorchvisionAnchors(model, name)
    input_hw, anchors = _real_anchors(model, image_hw)
    assert source.input_size(image_hw) == input_hw
    np.testing.assert_array_equal(np.concatenate([s.boxes for s in source.anchors(input_hw)]), anchors)


def test_resnet50_fpn_at_640_by_480_has_217413_anchors():
    source = TorchvisionAnchors(fasterrcnn_resnet50_fpn(**NO_WEIGHTS).eval())
    input_hw = source.input_size((480, 640))
    assert input_hw == (800, 1066) and source.padded_size(input_hw) == (800, 1088)
    assert source.grid_sizes((800, 1088)) == [(200, 272), (100, 136), (50, 68), (25, 34), (13, 17)]
    assert sum(len(s) for s in source.anchors(input_hw)) == 217_413


def test_thresholds_are_read_from_the_models_matchers(models):
    rpn = TorchvisionAnchors(models["demo-frcnn"])
    assert (rpn.positive_iou, rpn.negative_iou) == (0.7, 0.3) and "allow_low_quality_matches" in rpn.rule
    assert TorchvisionAnchors(models["demo-ssd"]).positive_iou == 0.5
    retina = retinanet_resnet50_fpn(**NO_WEIGHTS)
    assert (TorchvisionAnchors(retina).positive_iou, TorchvisionAnchors(retina).negative_iou) == (0.5, 0.4)
    retina.proposal_matcher.high_threshold = 0.6  # a model trained with another threshold says so
    assert TorchvisionAnchors(retina).positive_iou == 0.6


def test_a_training_mode_model_is_measured_at_its_eval_size_and_left_in_training_mode(models):
    model = fasterrcnn_resnet50_fpn(**NO_WEIGHTS, min_size=(480, 512, 800))
    model.train()
    assert TorchvisionAnchors(model).input_size((480, 640)) == (800, 1066) and model.transform.training


def test_fcos_is_anchor_free():
    with pytest.raises(DetectorError, match="FCOS is anchor-free"):
        TorchvisionAnchors(fcos_resnet50_fpn(**NO_WEIGHTS))
