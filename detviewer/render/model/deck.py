"""The classic detection lecture as data (Qt-free): which view, step and controls each slide shows, in order.

a classic detector on the photo (OpenCV's Haar face cascade: image pyramid, every window's score, grouping; then
Dalal–Triggs HOG + linear SVM: every window's margin, what grouping keeps) →
sliding window → Selective Search → R-CNN (crop and warp, fine-tuning samples, box regression: the prediction t
before its target t*) → Fast R-CNN (RoIPool, minibatch) → Faster R-CNN (RPN anchors, labels, minibatch, proposals,
box head samples) → Mask R-CNN (RoIAlign, which torchvision's Faster R-CNN box head uses) → YOLO → NMS → SSD →
mAP. ``detviewer lecture`` renders it into numbered slides; the window's lecture mode can step through the same
tuple across views (``plan_deck`` picks, for each slide, the first loaded model that can show it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detviewer.render.model.pipeline import ModelAbilities

__all__ = ["DeckSlide", "LECTURE_DECK", "PlannedSlide", "plan_deck", "resolve_step", "object_point"]


@dataclass(frozen=True)
class DeckSlide:
    """One slide: ``view`` (a registry name) at ``step`` - 0-based, negative from the end (-1 the last), or the
    ViewFrame.step_label to look for (e.g. "RPN minibatch") - with ``controls`` over the view's defaults.

    section / title: what the slide heads with; needs: a model capability the slide requires besides the
    view's own (e.g. "proposals" for the box head's regression); prefer: a capability to prefer when several
    models can show it; gt: the slide needs ground truth (left out without); show_gt: draw the ground truth
    when there is some; zoom: names of layers whose boxes the figure zooms onto (render.model.crop), () for
    the whole frame; point: a click for views that take one, (x, y) pixels or "object" (the centre of the
    largest ground-truth object, else of the best detection; ``object_point``)."""

    section: str
    title: str
    view: str
    step: int | str = 0
    controls: Mapping[str, Any] = field(default_factory=dict)
    needs: str = ""
    prefer: str = ""
    gt: bool = False
    show_gt: bool = True
    zoom: tuple[str, ...] = ()
    point: tuple[float, float] | str | None = None


#: The first section: a real classic detector (OpenCV's Viola–Jones face cascade) on the photo.
_SLIDE_A_WINDOW = "Slide a window, classify every crop"

LECTURE_DECK: tuple[DeckSlide, ...] = (
    DeckSlide(_SLIDE_A_WINDOW, "One window, every position", "classic-pyramid", 0),
    DeckSlide(_SLIDE_A_WINDOW, "Larger faces: shrink the photo", "classic-pyramid", 14),
    DeckSlide(_SLIDE_A_WINDOW, "Too many windows", "classic-windows", -1),
    DeckSlide(_SLIDE_A_WINDOW, "Neighbouring windows vote", "classic-grouping", 1),
    DeckSlide(_SLIDE_A_WINDOW, "Grouping beside greedy NMS", "classic-grouping", -1),
    DeckSlide(_SLIDE_A_WINDOW, "HOG + linear SVM: a margin for every window", "classic-windows", 0,
              needs="svm_margins"),
    DeckSlide(_SLIDE_A_WINDOW, "HOG + linear SVM: what grouping keeps", "classic-grouping", -1, needs="svm_margins"),
    DeckSlide("Before CNNs", "Sliding windows: one window shape", "sliding-window", 1),
    DeckSlide("Before CNNs", "Sliding windows: every shape and position", "sliding-window", -1),
    DeckSlide("Before CNNs", "Selective Search: grouping regions into proposals", "selective-search", 0),
    DeckSlide("R-CNN", "Crop and warp every proposal to 227×227", "selective-search", 1),
    DeckSlide("R-CNN", "Fine-tuning samples: IoU ≥ 0.5, 32 + 96 per 128", "sampling", "R-CNN fine-tuning", gt=True),
    DeckSlide("R-CNN", "Box regression: the prediction t moves a proposal", "regression", "Predicted t",
              {"stage": "proposal"}, needs="proposals", zoom=("anchor", "decoded")),
    DeckSlide("R-CNN", "Box regression: the target t* of a proposal", "regression", "Target t*",
              {"stage": "proposal"}, needs="proposals", gt=True, zoom=("anchor", "decoded")),
    DeckSlide("R-CNN", "Box regression: the textbook cases", "regression", "Textbook cases", {"stage": "proposal"},
              needs="proposals", gt=True, zoom=("textbook_boxes",)),
    DeckSlide("Fast R-CNN", "RoIPool: the box rounded to whole cells", "roi", 1, {"roi": "pool"}, show_gt=False,
              zoom=("proposal", "quantised")),
    DeckSlide("Fast R-CNN", "RoIPool: each bin's max over whole cells", "roi", 2, {"roi": "pool"}, show_gt=False,
              zoom=("proposal", "quantised")),
    DeckSlide("Fast R-CNN", "Minibatch: 25 % foreground, background in [0.1, 0.5)", "sampling",
              "Fast R-CNN minibatch", gt=True),
    DeckSlide("Faster R-CNN", "Anchors of one level, and of one cell on every level", "anchors", 2,
              {"color_by": "level"}, point="object"),
    DeckSlide("Faster R-CNN", "All anchors, labelled by the RPN's rule", "anchors", -1, {"color_by": "label"},
              needs="proposals", gt=True),
    DeckSlide("Faster R-CNN", "RPN minibatch: 256 anchors, at most half positive", "sampling", "RPN minibatch",
              needs="proposals", gt=True),
    DeckSlide("Faster R-CNN", "RPN proposals before its NMS", "proposals", 0),
    DeckSlide("Faster R-CNN", "RPN proposals after its NMS", "proposals", 1),
    DeckSlide("Faster R-CNN", "Box head samples: proposals + ground truth", "sampling", "Faster R-CNN box head",
              needs="proposals", gt=True),
    DeckSlide("Faster R-CNN", "The box head's move, decoded into a box", "regression", "Decoded box",
              {"stage": "proposal"}, needs="proposals", gt=True),
    DeckSlide("Mask R-CNN", "RoIAlign (Mask R-CNN, 2017): equal bins, bilinear samples", "roi", 2, {"roi": "align"},
              show_gt=False, zoom=("proposal",)),
    DeckSlide("Mask R-CNN", "RoIAlign beside Fast R-CNN's RoIPool: one proposal's outputs", "roi", 3,
              {"roi": "align"}, show_gt=False),
    DeckSlide("YOLO", "The S×S grid and its output tensor", "grid", 0),
    DeckSlide("YOLO", "One cell's boxes and class probabilities", "grid", 1),
    DeckSlide("NMS", "The candidates, sorted by score", "nms", 0),
    DeckSlide("NMS", "Keep the best, suppress its overlaps", "nms", 1),
    DeckSlide("NMS", "What is left: the detections", "nms", -1),
    DeckSlide("SSD", "Default boxes of the finest map", "default-boxes", 0),
    DeckSlide("SSD", "Default boxes of a coarser map, matched to objects", "default-boxes", 2, gt=True),
    DeckSlide("SSD", "Scales sₖ: the paper's formula and the model's", "default-boxes", -1),
    DeckSlide("SSD", "Matching and 3:1 hard negative mining", "sampling", "SSD: matches and hard negatives",
              needs="default_boxes", gt=True),
    DeckSlide("mAP", "True and false positives at IoU 0.5", "map", 0, prefer="grid", gt=True),
    DeckSlide("mAP", "One class: ranked detections and its PR curve", "map", 1, prefer="grid", gt=True),
    DeckSlide("mAP", "mAP50 beside COCO's AP@[.5:.95]", "map", -1, prefer="grid", gt=True),
)


@dataclass(frozen=True)
class PlannedSlide:
    """A slide of the deck bound to the model that shows it (its index in the models given), or skipped (model
    -1) with the reason."""

    number: int
    slide: DeckSlide
    model: int
    reason: str = ""


def plan_deck(models: Sequence[ModelAbilities], has_gt: bool,
              deck: Sequence[DeckSlide] = LECTURE_DECK) -> list[PlannedSlide]:
    """Bind every slide to the first model (of ``models``, in the order given) that can show the slide's view (the
    window's rule: render.model.pipeline.can_show) and has the slide's own capability; a model with the ``prefer``
    capability wins. Slides no model can show, or that need ground truth when there is none, are kept with model
    -1 and the reason; numbers count the shown slides from 1."""
    from detviewer.render.model.pipeline import can_show, cannot_show
    from detviewer.render.model.registry import VIEWS

    planned, number = [], 0
    for slide in deck:
        spec = VIEWS[slide.view]
        able = [i for i, m in enumerate(models)
                if can_show(spec, m) and (not slide.needs or slide.needs in (m.capabilities or ()))]
        preferred = [i for i in able if slide.prefer and slide.prefer in (models[i].capabilities or ())]
        if slide.gt and not has_gt:
            planned.append(PlannedSlide(0, slide, -1, "needs ground truth (--gt)"))
        elif not able:
            wanted = sorted(c for c in (spec.needs, slide.needs) if c)
            why = [cannot_show(spec, m) for m in models if cannot_show(spec, m)]
            reason = (f"no model given can show it (needs {', '.join(wanted)})" if wanted or not why
                      else f"no model given can show it: {why[0]}")
            planned.append(PlannedSlide(0, slide, -1, reason))
        else:
            number += 1
            planned.append(PlannedSlide(number, slide, (preferred or able)[0]))
    return planned


def resolve_step(step: int | str, step_count: int, label_of: Callable[[int], str]) -> int:
    """The 0-based step a DeckSlide's ``step`` means: an int (negative from the end, clamped), or the first step
    whose label (``label_of(step)``, e.g. the built frame's step_label) equals it; ValueError when none does."""
    if isinstance(step, int):
        index = step if step >= 0 else step_count + step
        return min(max(index, 0), max(step_count - 1, 0))
    for index in range(step_count):
        if label_of(index) == step:
            return index
    raise ValueError(f"no step is called {step!r}")


def object_point(gt: tuple[Any, Any] | None, detections_xyxy: Any) -> tuple[float, float] | None:
    """The centre (x, y) of the largest ground-truth box (gt: (boxes (M, 4), labels) or None), else of the first
    detection (detections_xyxy (D, 4), best first); None when there is neither."""
    import numpy as np

    boxes = np.asarray(gt[0], np.float32).reshape(-1, 4) if gt is not None else np.zeros((0, 4), np.float32)
    if len(boxes):
        box = boxes[int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))]
    elif len(detections_xyxy):
        box = np.asarray(detections_xyxy, np.float32)[0]
    else:
        return None
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
