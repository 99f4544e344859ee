"""Training-time sampling on the current image with its ground truth: which boxes one training step uses.

One step per sampler the lecture meets, for the model loaded: R-CNN fine-tuning and Fast R-CNN's minibatch on
Selective Search's regions (the papers' rules, ops.sampling); then the model's own - Faster R-CNN's box head
(its proposals plus the ground-truth boxes, as torchvision adds them, under its Matcher and sampler) and its
RPN (anchors, Matcher 0.7 / 0.3, 256 per image), SSD (matches and 3:1 hard negatives) or RetinaNet (every
labelled anchor) - with the numbers read from the model. Drawn: the positives and negatives drawn (green,
blue), positives left out (dashed), and the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference
from detviewer.render.model.colors import PALE_POSITIVE
from detviewer.render.model.geometry import all_anchor_boxes
from detviewer.render.model.primitives import (
    GT_COLOR,
    NEGATIVE,
    POSITIVE,
    BoxLayer,
    GtPair,
    ViewError,
    ViewFrame,
    as_gt,
    fmt_int,
    fmt_num,
    gt_layer,
    memo,
    solid,
)
from detviewer.render.model.spec import Prepare, ViewRequest, ViewSpec, counted
from detviewer.render.model.views.training_labels import label_anchors, model_rule, rule_sentence

__all__ = ["SamplingViewState", "Sampled", "samplers", "sampled", "sampling_frame", "sampling_steps"]


@dataclass(frozen=True, eq=False)
class SamplingViewState:
    """regions (N, 4) float32 xyxy original pixels: Selective Search's boxes for the R-CNN / Fast R-CNN steps
    (None: the model's proposals, when it has some); step: which sampler (``samplers``); seed: the draw."""

    regions: np.ndarray | None = None
    step: int | None = None
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Sampled:
    """One sampler's result: boxes (N, 4) it chooses from, labels (N,) 1 / 0 / -1 (unused), positive / negative
    (P,), (Q,) indices drawn; title, what the regions are, rule: one sentence of its rule."""

    title: str
    regions: str
    rule: str
    boxes: np.ndarray
    labels: np.ndarray
    positive: np.ndarray
    negative: np.ndarray


def samplers(inference: Inference) -> list[str]:
    """The steps for this model: "rcnn", "fast_rcnn", then its own ("box_head", "rpn", "ssd", "retinanet")."""
    own = [r.stage for r in inference.rules if r.stage in ("box_head", "rpn", "ssd", "retinanet")]
    if "box_head" in own and "rpn" in own:  # the lecture's order: the box head is Fast R-CNN's, then the RPN
        own = ["box_head", "rpn"] + [s for s in own if s not in ("box_head", "rpn")]
    return ["rcnn", "fast_rcnn"] + own


def sampling_steps(inference: Inference, gt: GtPair | None = None) -> int:
    return len(samplers(inference))


def _regions(inference: Inference, state: SamplingViewState) -> tuple[np.ndarray, str]:
    if state.regions is not None:
        return np.asarray(state.regions, np.float32).reshape(-1, 4), "Selective Search regions"
    if inference.proposals is not None:
        return inference.proposals.xyxy, f"{inference.model_name}'s proposals (Selective Search not run)"
    raise ViewError("The R-CNN and Fast R-CNN samplers need region proposals: Selective Search runs on the "
                    "frame's pixels; open an image.")


def _paper(kind: str, inference: Inference, state: SamplingViewState, gt_boxes: np.ndarray) -> Sampled:
    from detviewer.ops.sampling import FAST_RCNN_ROIS, RCNN_BATCH, sample_fast_rcnn, sample_rcnn

    boxes, where = _regions(inference, state)
    if kind == "rcnn":
        s = sample_rcnn(boxes, gt_boxes, state.seed)
        rule = (f"R-CNN fine-tuning: IoU ≥ 0.5 with an object is a positive for its class, everything else "
                f"background; a minibatch of {sum(RCNN_BATCH)} takes {RCNN_BATCH[0]} positives and {RCNN_BATCH[1]} "
                "background regions, uniformly (the paper draws them across images).")
        return Sampled("R-CNN fine-tuning", where, rule, boxes, s.labels, s.positive, s.negative)
    s = sample_fast_rcnn(boxes, gt_boxes, state.seed)
    rois, fraction = FAST_RCNN_ROIS
    rule = (f"Fast R-CNN: {rois} RoIs per image (128 from 2 images), at most {fmt_num(100 * fraction)} % foreground "
            "at IoU ≥ 0.5, background from IoU in [0.1, 0.5); below 0.1 unused.")
    return Sampled("Fast R-CNN minibatch", where, rule, boxes, s.labels, s.positive, s.negative)


def _box_head(inference: Inference, state: SamplingViewState, gt_boxes: np.ndarray) -> Sampled:
    from detviewer.ops.sampling import sample_model

    rule = model_rule(inference, "box_head")
    boxes = np.concatenate([inference.proposals.xyxy, gt_boxes]).astype(np.float32)  # torchvision's add_gt_proposals
    s = sample_model(boxes, gt_boxes, rule, state.seed)
    where = (f"boxes ({len(inference.proposals)} proposals + {len(gt_boxes)} ground-truth boxes, as torchvision "
             "adds them)")
    return Sampled("Faster R-CNN box head", where, rule_sentence(rule), boxes, s.labels, s.positive, s.negative)


def _anchor_stage(inference: Inference, stage: str, state: SamplingViewState, gt_boxes: np.ndarray) -> Sampled:
    labels = label_anchors(inference, gt_boxes, model_rule(inference, stage), state.seed)
    titles = {"rpn": "RPN minibatch", "ssd": "SSD: matches and hard negatives", "retinanet": "RetinaNet: every anchor"}
    return Sampled(titles[stage], "default boxes" if stage == "ssd" else "anchors", rule_sentence(labels.rule),
                   memo(inference, ("all_boxes",), lambda: all_anchor_boxes(inference)), labels.labels,
                   np.sort(labels.sampled_positive), np.sort(labels.sampled_negative))


def sampled(inference: Inference, kind: str, state: SamplingViewState, gt_boxes: np.ndarray) -> Sampled:
    """The sampler ``kind`` (one of ``samplers(inference)``) on this image's ground truth (M, 4) xyxy pixels."""
    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    if kind in ("rcnn", "fast_rcnn"):
        return _paper(kind, inference, state, gt_boxes)
    if kind == "box_head":
        return _box_head(inference, state, gt_boxes)
    return _anchor_stage(inference, kind, state, gt_boxes)


def _layers(s: Sampled) -> list[BoxLayer]:
    left_out = np.setdiff1d(np.flatnonzero(s.labels == 1), s.positive)
    groups = [("positive_left_out", left_out, PALE_POSITIVE, 1.0, 140, True),
              ("sampled_negative", s.negative, NEGATIVE, 1.5, 190, False),
              ("sampled_positive", s.positive, POSITIVE, 2.5, 255, False)]
    return [BoxLayer(name, s.boxes[index], solid(color, len(index)), index.astype(np.int64), width=width, alpha=alpha,
                     dashed=dashed) for name, index, color, width, alpha, dashed in groups]


def sampling_frame(inference: Inference, state: SamplingViewState = SamplingViewState(),
                   gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """Step ``state.step`` of the samplers on this image; gt ``(boxes (M, 4) xyxy original pixels, labels (M,))``."""
    gt = as_gt(gt)
    if gt is None or len(gt[0]) == 0:
        raise ViewError("Training samples are drawn against ground truth: load annotations for this image.")
    kinds = samplers(inference)
    step = 0 if state.step is None else min(max(int(state.step), 0), len(kinds) - 1)
    s = sampled(inference, kinds[step], state, gt[0])
    pos, neg, unused = (int((s.labels == v).sum()) for v in (1, 0, -1))
    layers: list = _layers(s) + [gt_layer(gt, inference.detections.class_names)]
    rows = [("Regions", f"{fmt_int(len(s.boxes))} {s.regions}"),
            ("Positive", fmt_int(pos)), ("Background", fmt_int(neg))]
    if unused:
        rows.append(("Unused (ignored)", fmt_int(unused)))
    rows.append(("One training step", f"{fmt_int(len(s.positive))} positive + {fmt_int(len(s.negative))} background"))
    unused_text = f", {fmt_int(unused)} unused" if unused else ""
    caption = (f"{s.title} on this image: of {fmt_int(len(s.boxes))} {s.regions}, {fmt_int(pos)} are positive and "
               f"{fmt_int(neg)} background{unused_text}; one training step uses {fmt_int(len(s.positive))} positives "
               f"(green) and {fmt_int(len(s.negative))} background boxes (blue). {s.rule}")
    legend = (("drawn positive", POSITIVE), ("drawn background", NEGATIVE), ("positive not drawn (dashed)", PALE_POSITIVE),
              ("ground truth", GT_COLOR))
    drawn = len(s.positive) + len(s.negative)
    return ViewFrame(layers, caption, rows, step, len(kinds), s.title, legend=legend, dim=0.3 if drawn > 60 else 0.0)


def _prepare(request: ViewRequest) -> Prepare | None:
    from detviewer.render.model.views.before_cnn import run_selective_search

    image = request.image
    if image is None or request.gt is None:  # without ground truth the view only says it needs some
        return None
    return Prepare(("selective_search",), lambda _detector: run_selective_search(image),
                   message="Running Selective Search…")


def _build(request: ViewRequest) -> ViewFrame:
    regions = request.prepared[0] if request.prepared is not None else None
    state = SamplingViewState(regions=regions, step=request.step)
    return sampling_frame(request.inference, state, gt=request.gt_pair)


SPEC = ViewSpec(
    "sampling", "Training samples", _build, step_count=counted(sampling_steps), prepare=_prepare, reads_anchors=True,
    help="Steps: R-CNN's and Fast R-CNN's samplers on Selective Search's regions, then the model's own (box head, "
         "RPN, SSD or RetinaNet). Needs ground truth.")
