"""The anchors a torchvision detector matches its targets against, for any input size, from its own modules.

``TorchvisionAnchors(model)`` answers, for Faster R-CNN (the RPN's anchors), RetinaNet and SSD:

- ``input_size((h, w))``: the size the model's ``transform`` resizes an h x w image to (run on a meta tensor:
  no pixels are allocated);
- ``anchors((h, w))``: its anchor generator's output for that input, per level (``ops.anchors.run_generator``),
  in input pixels; the feature-map sizes come from running the backbone on meta tensors (shapes only, ~0.2 s for
  a ResNet-50 FPN, once per padded size);
- ``positive_iou`` / ``negative_iou``: read from the model's matcher (RPN ``proposal_matcher`` 0.7 / 0.3,
  RetinaNet 0.5 / 0.4, SSD 0.5), and ``rule``: how the model labels anchors, in one sentence.

``suggest(prototypes_per_level, input_hw)`` gives the same model with a generator of the same layout holding other
shapes (``ops.anchor_fit``), ``describe()`` the generator as Python, ``shapes_per_level()`` its layout.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.ssd import SSD

from detviewer.core.types import AnchorSet
from detviewer.errors import DetectorError
from detviewer.ops.anchor_fit import describe_generator, fit_generator, shapes_per_level
from detviewer.ops.anchors import Generator, run_generator

__all__ = ["TorchvisionAnchors", "anchor_family", "RECENT_PADDED_SIZES"]

#: Padded sizes whose anchors are kept (input sizes are measured in sorted order, so neighbours share them).
RECENT_PADDED_SIZES = 4


def anchor_family(model: nn.Module) -> str:
    """'rpn', 'retinanet' or 'ssd'; DetectorError (one sentence) for a model that does not match by anchor IoU."""
    if isinstance(model, GeneralizedRCNN) and hasattr(model, "rpn"):
        return "rpn"
    if isinstance(model, RetinaNet):
        return "retinanet"
    if isinstance(model, SSD):
        return "ssd"
    if isinstance(model, FCOS):
        raise DetectorError("FCOS is anchor-free: it assigns objects by centre sampling and scale ranges, not by "
                            "anchor IoU, so there is no anchor coverage to measure.")
    raise DetectorError(f"{type(model).__name__} has no anchor generator detviewer knows (Faster R-CNN, RetinaNet "
                        f"or SSD).")


def _rule(family: str, matcher: Any) -> str:
    high, low = float(matcher.high_threshold), float(matcher.low_threshold)
    if family == "ssd":
        return (f"SSD: a default box is positive at IoU >= {high:g} with an object; each object also takes its "
                f"best default box")
    name = "RPN" if family == "rpn" else "RetinaNet"
    low_quality = ("; each object also takes its best anchors (allow_low_quality_matches)"
                   if matcher.allow_low_quality_matches else "")
    return f"{name}: an anchor is positive at IoU >= {high:g}, negative below {low:g}{low_quality}"


class TorchvisionAnchors:
    """The anchors of a torchvision Faster R-CNN (RPN), RetinaNet or SSD model (see the module docstring).

    name: how reports call the model; generator: the AnchorGenerator / DefaultBoxGenerator to use (default:
    the model's own).
    """

    def __init__(self, model: nn.Module, name: str = "", generator: Generator | None = None) -> None:
        self.family = anchor_family(model)
        self.model: Any = cast(Any, model)  # a torchvision detection model: its submodules are read by name
        self.name = name or type(model).__name__
        own = self.model.rpn.anchor_generator if self.family == "rpn" else self.model.anchor_generator
        self.generator = own if generator is None else generator
        matcher = self.model.rpn.proposal_matcher if self.family == "rpn" else self.model.proposal_matcher
        self.positive_iou = float(matcher.high_threshold)
        self.negative_iou = float(matcher.low_threshold)
        self.rule = _rule(self.family, matcher)
        self._inputs: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {}
        self._grids: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._recent: OrderedDict[tuple[int, int], tuple[AnchorSet, ...]] = OrderedDict()

    def with_generator(self, generator: Generator) -> TorchvisionAnchors:
        """The same model (transform, backbone, matcher) with another anchor generator."""
        other = TorchvisionAnchors(self.model, self.name, generator)
        other._inputs, other._grids = self._inputs, self._grids  # the geometry does not depend on the anchors
        return other

    def shapes_per_level(self) -> list[int]:
        """Anchor shapes per location of each level."""
        return shapes_per_level(self.generator)

    def describe(self) -> str:
        """The generator as the Python expression that builds it."""
        return describe_generator(self.generator)

    def suggest(self, prototypes_per_level: Sequence[np.ndarray | None], input_hw: tuple[int, int]) -> TorchvisionAnchors:
        """This model with anchors of the shapes ``prototypes_per_level`` ((k_l, 2) in input pixels at
        ``input_hw``, or None to keep a level's), laid out as its generator lays them out (``ops.anchor_fit``)."""
        return self.with_generator(fit_generator(self.generator, prototypes_per_level, input_hw))

    def _geometry(self, image_hw: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(input (h, w), padded (h, w)) of an image of ``image_hw`` through the model's transform."""
        key = (int(image_hw[0]), int(image_hw[1]))
        if key not in self._inputs:
            transform = self.model.transform
            training = transform.training
            transform.eval()  # in training mode it resizes to a random one of its min sizes
            try:
                with torch.no_grad():
                    images, _ = transform([torch.empty(3, *key, device="meta")])
            finally:
                transform.train(training)
            (h, w), (ph, pw) = images.image_sizes[0], images.tensors.shape[-2:]
            self._inputs[key] = ((int(h), int(w)), (int(ph), int(pw)))
        return self._inputs[key]

    def input_size(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) the model's transform resizes an image of ``image_hw`` (h, w) to (before padding)."""
        return self._geometry(image_hw)[0]

    def padded_size(self, input_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the batched tensor for an input of ``input_hw``: what the generator's strides divide."""
        transform = self.model.transform
        batched = transform.batch_images([torch.empty(3, *input_hw, device="meta")],
                                         size_divisible=transform.size_divisible)
        h, w = batched.shape[-2:]
        return int(h), int(w)

    def grid_sizes(self, padded_hw: tuple[int, int]) -> list[tuple[int, int]]:
        """(H_l, W_l) of every feature map the backbone gives for a padded input, from shapes alone."""
        key = (int(padded_hw[0]), int(padded_hw[1]))
        if key not in self._grids:
            backbone = self.model.backbone
            meta = {name: torch.empty_like(t, device="meta")
                    for name, t in [*backbone.named_parameters(), *backbone.named_buffers()]}
            with torch.no_grad():
                features = functional_call(backbone, meta, (torch.empty(1, 3, *key, device="meta"),))
            if isinstance(features, torch.Tensor):
                features = {"0": features}
            self._grids[key] = [(int(f.shape[-2]), int(f.shape[-1])) for f in features.values()]
        return self._grids[key]

    def anchors(self, input_hw: tuple[int, int]) -> tuple[AnchorSet, ...]:
        """The generator's anchors for an input of ``input_hw`` (h, w), per level, in input pixels.

        They depend only on the padded size, which many input sizes share (800 x 1188 ... 800 x 1207 all pad
        to 800 x 1216); the last few are kept (a ResNet-50 FPN's are 3.5 MB per size)."""
        padded = self.padded_size((int(input_hw[0]), int(input_hw[1])))
        if padded in self._recent:
            self._recent.move_to_end(padded)
        else:
            self._recent[padded] = run_generator(self.generator, padded, self.grid_sizes(padded))
            while len(self._recent) > RECENT_PADDED_SIZES:
                self._recent.popitem(last=False)
        return self._recent[padded]
