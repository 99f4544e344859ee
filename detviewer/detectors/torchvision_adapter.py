"""One adapter for every torchvision detector family: Faster R-CNN, RetinaNet, FCOS and SSD.

It runs the model's own ``forward`` once per frame (see ``capture.py``) and turns what the hooks
saw into an ``Inference`` in original-image pixels.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.transform import resize_boxes

from detviewer.core.types import AnchorSet, DeferredAnchors, Detections, Inference, MatchRule, NMSParams, Proposals
from detviewer.detectors.base import Detector, EvaluationSettings
from detviewer.detectors.capture import Capture, StageHooks, capturing, stage_timings_ms
from detviewer.errors import DetectorError
from detviewer.ops.anchors import level_layouts, split_levels
from detviewer.ops.roi import RoIPooling, pool_region


def model_family(model: nn.Module) -> str:
    """'rcnn', 'retinanet', 'fcos' or 'ssd'; raises DetectorError for anything else."""
    if isinstance(model, GeneralizedRCNN):
        return "rcnn"
    if isinstance(model, RetinaNet):
        return "retinanet"
    if isinstance(model, FCOS):
        return "fcos"
    if isinstance(model, SSD):
        return "ssd"
    raise DetectorError(f"{type(model).__name__} is not a torchvision detection model this adapter knows.")


def _final_nms_params(model: nn.Module, family: str) -> NMSParams:
    head = model.roi_heads if family == "rcnn" else model
    return NMSParams(
        iou_threshold=float(head.nms_thresh),
        score_threshold=float(head.score_thresh),
        class_agnostic=False,
        max_detections=int(head.detections_per_img),
    )


def _rule(stage: str, matcher: Any, sampler: Any = None, box_coder: Any = None, neg_to_pos: float = 0.0) -> MatchRule:
    """A MatchRule from a torchvision Matcher / SSDMatcher, BalancedPositiveNegativeSampler and BoxCoder."""
    weights = tuple(float(w) for w in getattr(box_coder, "weights", (1.0, 1.0, 1.0, 1.0)))
    return MatchRule(
        stage=stage, matcher=type(matcher).__name__, fg_iou=float(matcher.high_threshold),
        bg_iou=float(matcher.low_threshold),
        low_quality=bool(matcher.allow_low_quality_matches) or type(matcher).__name__ == "SSDMatcher",
        batch_size=int(getattr(sampler, "batch_size_per_image", 0)),
        positive_fraction=float(getattr(sampler, "positive_fraction", 0.0)), neg_to_pos=float(neg_to_pos),
        box_weights=weights)


def match_rules(model: nn.Module, family: str) -> tuple[MatchRule, ...]:
    """The training rules the loaded model itself carries (its matchers, samplers, BoxCoders); FCOS assigns
    points by centre sampling, not IoU, and has none."""
    if family == "rcnn":
        rpn, heads = model.rpn, model.roi_heads
        return (_rule("rpn", rpn.proposal_matcher, rpn.fg_bg_sampler, rpn.box_coder),
                _rule("box_head", heads.proposal_matcher, heads.fg_bg_sampler, heads.box_coder))
    if family == "ssd":
        return (_rule("ssd", model.proposal_matcher, box_coder=model.box_coder, neg_to_pos=model.neg_to_pos_ratio),)
    if family == "retinanet":
        return (_rule("retinanet", model.proposal_matcher, box_coder=model.box_coder),)
    return ()


class TorchvisionDetector(Detector):
    """Wraps a torchvision detection model (any of the four families) in eval mode.

    class_names: index = label; torchvision COCO weights give 91 names with "__background__" at 0.
    """

    def __init__(self, model: nn.Module, *, name: str, class_names: Sequence[str], device: str = "cpu") -> None:
        self.family = model_family(model)
        self.name = name
        self.class_names = tuple(class_names)
        self.device = str(device)
        self.model = model.eval().to(self.device)
        self.nms = _final_nms_params(self.model, self.family)
        self.rules = match_rules(self.model, self.family)
        self._anchor_generator = self.model.rpn.anchor_generator if self.family == "rcnn" else self.model.anchor_generator
        self._hooks = self._install_hooks()
        # (weakref to the Inference, features, input size, image size) of the last frame: RoI pooling
        # pools on the features of the Inference it is asked about, never on another frame's.
        self._held = None
        self._input = None  # the float input tensor of the last frame size, reused (see _input_tensor)

    framework = "torchvision"

    @contextlib.contextmanager
    def evaluating(self, settings: EvaluationSettings) -> Iterator[None]:
        """Within the block the model's head runs with ``settings``' score threshold (``box_score_thresh``),
        NMS IoU and ``detections_per_img``; its own come back after it."""
        head = self.model.roi_heads if self.family == "rcnn" else self.model
        names = {"score_floor": "score_thresh", "nms_iou": "nms_thresh", "max_detections": "detections_per_img"}
        saved = {attr: getattr(head, attr) for attr in names.values()}
        for field_name, attr in names.items():
            value = getattr(settings, field_name)
            if value is not None:
                setattr(head, attr, type(saved[attr])(value))
        try:
            with super().evaluating(settings):
                yield
        finally:
            for attr, value in saved.items():
                setattr(head, attr, value)

    def _input_tensor(self, image: np.ndarray) -> torch.Tensor:
        """(3, H, W) float32 in [0, 1] on the device, from (H, W, 3) uint8 RGB. On the CPU the same buffer serves
        every frame of a size: a fresh 4-100 MB tensor each frame costs the forward pass ~5 % in page faults and
        cold caches (the model reads it only during infer, which runs on one thread)."""
        frame = torch.from_numpy(np.ascontiguousarray(image))
        if self.device != "cpu":
            return frame.to(self.device).permute(2, 0, 1).float().div_(255.0)
        if self._input is None or self._input.shape != frame.shape:
            self._input = torch.empty(frame.shape, dtype=torch.float32)
        return self._input.copy_(frame).div_(255.0).permute(2, 0, 1)

    def _install_hooks(self) -> StageHooks:
        m = self.model
        sync = self.device.startswith("cuda")
        if self.family == "rcnn":
            return StageHooks(
                stages={"backbone": m.backbone, "rpn": m.rpn, "roi_heads": m.roi_heads},
                anchor_generator=m.rpn.anchor_generator, transform=m.transform, head=m.rpn.head,
                nms_stages={"rpn": m.rpn}, sync_cuda=sync, box_predictor=m.roi_heads.box_predictor,
            )
        return StageHooks(
            stages={"backbone": m.backbone, "head": m.head, "anchors": m.anchor_generator},
            anchor_generator=m.anchor_generator, transform=m.transform, head=m.head, sync_cuda=sync,
        )

    def close(self) -> None:
        self._held = self._input = None
        self._hooks.remove()
        self.model = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    # -- inference ---------------------------------------------------------------------------
    def infer(self, image_rgb: np.ndarray) -> Inference:
        image = np.asarray(image_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DetectorError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        start = time.perf_counter()
        with torch.inference_mode(), capturing() as capture:
            tensor = self._input_tensor(image)
            to_tensor_done = time.perf_counter()
            output = self.model([tensor])[0]
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
        end = time.perf_counter()
        timings = {"to_tensor": (to_tensor_done - start) * 1000.0}
        timings.update(stage_timings_ms(to_tensor_done, capture.marks, end))
        timings["total"] = (end - start) * 1000.0
        inference = self._build_inference(output, capture, (height, width), timings)
        if self.family == "rcnn":
            self._held = (weakref.ref(inference), capture.features, capture.image_sizes[0], (height, width))
        return inference

    def _build_inference(self, output: dict, capture: Capture, image_size: tuple[int, int],
                         timings: dict[str, float]) -> Inference:
        input_size = capture.image_sizes[0]
        to_original = lambda boxes: resize_boxes(boxes, input_size, image_size)  # noqa: E731
        detections = Detections(
            output["boxes"].float().cpu().numpy(), output["scores"].float().cpu().numpy(),
            output["labels"].cpu().numpy(), self.class_names,
        )
        final = [c for c in capture.nms_calls if c.stage == "final"]
        if final:
            call = final[-1]
            candidates = Detections(
                to_original(call.boxes.float()).cpu().numpy(), call.scores.float().cpu().numpy(),
                call.idxs.cpu().numpy(), self.class_names,
            )
        else:
            candidates = Detections.empty(self.class_names)
        return Inference(
            model_name=self.name,
            image_size=image_size,
            detections=detections,
            candidates=candidates,
            nms=self.nms,
            proposals=self._proposals(capture, to_original),
            anchors=self._anchor_sets(capture, to_original),
            timings=timings,
            device=self.device,
            input_size=input_size,
            scale=(input_size[0] / image_size[0], input_size[1] / image_size[1]),
            rules=self.rules,
        )

    def pool_region(self, box_xyxy: ArrayLike, inference: Inference, image_rgb: np.ndarray | None = None) -> RoIPooling:
        """How the box head pools ``box_xyxy`` (4,) original pixels on the frame of ``inference`` (two-stage only).

        The features of the last ``infer`` are held; when ``inference`` is an older result, the model runs
        again on ``image_rgb`` (its frame) to get them back.
        """
        if self.family != "rcnn":
            raise DetectorError(f"{self.name} is a one-stage detector: it has no RoI pooling stage.")
        held = self._held
        if held is None or held[0]() is not inference:
            if image_rgb is None:
                raise DetectorError("The features of that frame are gone; run the model on it again (F5).")
            self.infer(image_rgb)
            held = self._held
        _, features, input_size, image_size = held
        box = resize_boxes(torch.as_tensor(np.asarray(box_xyxy, np.float32)).reshape(1, 4), image_size, input_size)
        return pool_region(self.model.roi_heads.box_roi_pool, features, box[0].numpy(), input_size)

    def _proposals(self, capture: Capture, to_original: Callable[[torch.Tensor], torch.Tensor]) -> Proposals | None:
        rpn_calls = [c for c in capture.nms_calls if c.stage == "rpn"]
        if self.family != "rcnn" or not rpn_calls:
            return None
        call = rpn_calls[-1]
        keep = call.keep[: self.model.rpn.post_nms_top_n()]
        class_deltas, class_scores = self._box_head_outputs(capture, len(keep))
        return Proposals(
            xyxy=to_original(call.boxes[keep].float()).cpu().numpy(),
            objectness=call.scores[keep].float().cpu().numpy(),
            pre_nms_xyxy=to_original(call.boxes.float()).cpu().numpy(),
            pre_nms_objectness=call.scores.float().cpu().numpy(),
            iou_threshold=call.iou_threshold,
            class_deltas=class_deltas,
            class_scores=class_scores,
        )

    @staticmethod
    def _box_head_outputs(capture: Capture, count: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(N, C, 4) raw box regression and (N, C) class probabilities of the N proposals, in their order
        (the RoI heads pool the proposals as the RPN returned them); None when not captured."""
        output = capture.box_head_output
        if output is None:
            return None, None
        logits, regression = output
        if logits.shape[0] != count:
            return None, None
        deltas = regression.float().reshape(count, -1, 4).cpu().numpy()
        return deltas, logits.float().softmax(-1).cpu().numpy()

    def _anchor_sets(self, capture: Capture,
                     to_original: Callable[[torch.Tensor], torch.Tensor]) -> DeferredAnchors | tuple:
        """The anchor levels with the head's output for each anchor, built when a view first asks for them
        (converting ~10k-250k per-anchor outputs each frame would cost the detections view 5-20 %). Everything
        the build needs is read here, so that it never touches the model, from whichever thread."""
        if capture.anchors is None:
            return ()
        layouts = level_layouts(self._anchor_generator, capture.grid_sizes, capture.padded_size)
        # FCOS's BoxLinearCoder has no weights (it regresses distances, and deltas is None then).
        weights = tuple(float(w) for w in getattr(self._box_coder(), "weights", (1.0, 1.0, 1.0, 1.0)))
        anchors, head_output, family = capture.anchors, capture.head_output, self.family

        def build() -> tuple[AnchorSet, ...]:
            with torch.inference_mode():
                sets = split_levels(layouts, to_original(anchors.float()).cpu().numpy())
                objectness, deltas = per_anchor_outputs(family, head_output)
            if objectness is None or len(objectness) != sum(len(a) for a in sets):
                return sets
            out, offset = [], 0
            for anchor_set in sets:
                end = offset + len(anchor_set)
                out.append(replace(anchor_set, objectness=objectness[offset:end],
                                   deltas=None if deltas is None else deltas[offset:end], delta_weights=weights))
                offset = end
            return tuple(out)

        return DeferredAnchors(len(layouts), build)

    def _box_coder(self):
        return self.model.rpn.box_coder if self.family == "rcnn" else getattr(self.model, "box_coder", None)


def per_anchor_outputs(family: str, head_output: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(K,) scores and (K, 4) raw deltas per anchor of a ``family`` head's captured output, in the anchors' order
    (level, y, x, anchor); (None, None) without one."""
    if head_output is None:
        return None, None
    if family == "rcnn":
        logits_per_level, deltas_per_level = head_output
        # torchvision's permute_and_flatten order: (A, H, W) -> (H, W, A)
        scores = torch.cat([o[0].permute(1, 2, 0).reshape(-1) for o in logits_per_level]).sigmoid()
        deltas = torch.cat([d[0].view(-1, 4, *d.shape[-2:]).permute(2, 3, 0, 1).reshape(-1, 4)
                            for d in deltas_per_level])
    elif family == "ssd":
        scores = 1.0 - head_output["cls_logits"][0].float().softmax(-1)[:, 0]
        deltas = head_output["bbox_regression"][0]
    elif family == "retinanet":
        scores = head_output["cls_logits"][0].float().sigmoid().amax(-1)
        deltas = head_output["bbox_regression"][0]
    else:  # fcos: its score is sqrt(class probability x centerness); it regresses distances
        scores = (head_output["cls_logits"][0].float().sigmoid().amax(-1)
                  * head_output["bbox_ctrness"][0, :, 0].float().sigmoid()).sqrt()
        deltas = None
    return scores.float().cpu().numpy(), None if deltas is None else deltas.float().cpu().numpy()
