"""mAP as the lecture defines it, on the current image: AP per class at IoU 0.5 (the area under its
precision-recall curve), averaged over the classes with objects, on a 0-100 scale, next to COCO's
AP@[.5:.95].

The numbers are pycocotools' (core.coco_eval, equal to COCOeval to the bit): every detection the model output,
matched greedily by score at IoU ≥ 0.5, precision interpolated at 101 recall points (the area drawn). Steps:
every detection as a true or false positive; one class at a time with its ranked detections and PR curve;
the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from detviewer.core.types import Inference
from detviewer.render.model.colors import class_colors
from detviewer.render.model.primitives import (
    GT_COLOR,
    POSITIVE,
    BoxLayer,
    GtPair,
    ViewError,
    ViewFrame,
    as_gt,
    fmt_int,
    gt_layer,
    memo,
)
from detviewer.render.model.spec import ViewRequest, ViewSpec, counted
from detviewer.render.model.views.inset_chart import (
    AREA,
    CURVE,
    ENVELOPE,
    bar_chart_layers,
    chart_rect,
    pr_chart_layers,
)

__all__ = ["ImageAP", "image_ap", "map_frame", "map_steps", "FALSE_POSITIVE"]

FALSE_POSITIVE = (255, 40, 40)
_TABLE_ROWS = 10  # ranked detections listed per class


@dataclass(frozen=True, eq=False)
class ImageAP:
    """One image's evaluation. classes (K',) labels with ground truth, in label order; ap50 / ap (K',) AP at
    IoU 0.5 and AP@[.5:.95] per class (0..1); map50 / coco_ap: their means; tp (D,) bool per detection at IoU 0.5
    (pycocotools' greedy matching); recall_points (101,); interpolated (K', 101) precision at IoU 0.5."""

    classes: np.ndarray
    ap50: np.ndarray
    ap: np.ndarray
    map50: float
    coco_ap: float
    tp: np.ndarray
    recall_points: np.ndarray
    interpolated: np.ndarray
    objects: np.ndarray


def _boxes(gt: GtPair, inference: Inference) -> tuple:
    from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes

    boxes, labels = gt
    keep = labels > 0
    boxes, labels = boxes[keep].astype(np.float64), labels[keep]
    xywh = np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]
    m = len(labels)
    truth = GroundTruthBoxes(np.zeros(m), labels, xywh, xywh[:, 2] * xywh[:, 3], np.zeros(m, bool), np.zeros(m, bool),
                             np.arange(1, m + 1))
    det = inference.detections
    d = det.xyxy.astype(np.float64)
    found = DetectionBoxes(np.zeros(len(det)), det.labels, np.c_[d[:, :2], d[:, 2:] - d[:, :2]],
                           det.scores.astype(np.float64))
    return truth, found


def image_ap(inference: Inference, gt: tuple[ArrayLike, ArrayLike]) -> ImageAP:
    """AP of the model's detections on this image against ``gt`` ``(boxes (M, 4) xyxy, labels (M,))`` (labels in
    the model's label space; <= 0 left out). Memoised per Inference."""
    from detviewer.core.coco_eval import evaluate_coco
    from detviewer.evaluation.matching import match_by_class

    gt = as_gt(gt)
    num_classes = max(len(inference.detections.class_names), int(gt[1].max(initial=0)) + 1,
                      int(inference.detections.labels.max(initial=0)) + 1)

    def compute() -> ImageAP:
        truth, found = _boxes(gt, inference)
        coco = evaluate_coco(truth, found, 1, num_classes)
        classes = np.unique(truth.category_index)
        ap50, ap = coco.per_class_ap(0.5)[classes], coco.per_class_ap(None)[classes]
        t50 = int(np.flatnonzero(np.isclose(coco.iou_thresholds, 0.5))[0])
        interpolated = coco.precision[t50, :, :, 0, -1].T[classes]
        tp = match_by_class(truth, found, num_classes, 0.5).true_positive()
        objects = np.bincount(truth.category_index, minlength=num_classes)[classes]
        return ImageAP(classes, ap50, ap, float(ap50.mean()) if len(classes) else float("nan"),
                       float(coco.stats["AP"]), tp, coco.recall_thresholds.copy(), interpolated, objects)

    return memo(inference, ("image_ap", gt[0].tobytes(), gt[1].tobytes()), compute)


def map_steps(inference: Inference, gt: GtPair | None = None) -> int:
    """Lecture steps: every detection, one per class with objects (the lowest AP50 first: its curve has the
    most to show), the mean."""
    gt = as_gt(gt)
    if gt is None:
        return 1
    return len(np.unique(gt[1][gt[1] > 0])) + 2


def _tp_fp_layer(inference: Inference, index: np.ndarray, tp: np.ndarray, ranked: bool) -> BoxLayer:
    det = inference.detections
    colors = np.where(tp[index][:, None], np.asarray(POSITIVE, np.uint8), np.asarray(FALSE_POSITIVE, np.uint8))
    texts = tuple((f"#{r + 1} " if ranked else "") + ("TP" if tp[i] else "FP") + f" {det.scores[i]:.2f}"
                  for r, i in enumerate(index.tolist()))
    order = index[::-1]  # the best drawn last, on top
    return BoxLayer("detections", det.xyxy[order], colors[::-1], order.astype(np.int64), labels=texts[::-1],
                    width=2.5)


def _class_frame(inference: Inference, gt: GtPair, result: ImageAP, k: int, step: int, steps: int) -> ViewFrame:
    det = inference.detections
    label = int(result.classes[k])
    name = det.name_of(label)
    index = np.flatnonzero(det.labels == label)
    index = index[np.argsort(-det.scores[index], kind="stable")]
    tp = result.tp[index]
    cum_tp = np.cumsum(tp)
    precision = cum_tp / np.arange(1, len(index) + 1)
    recall = cum_tp / max(int(result.objects[k]), 1)
    mine = gt[1] == label
    layers: list = [gt_layer((gt[0][mine], gt[1][mine]), det.class_names)]
    if len(index):
        layers.append(_tp_fp_layer(inference, index, result.tp, ranked=True))
    rect = chart_rect(inference.image_size, np.concatenate([gt[0][mine], det.xyxy[index]]))
    layers += pr_chart_layers(rect, recall, precision, result.recall_points, result.interpolated[k],
                              f"{name}: AP50 {100 * result.ap50[k]:.1f}")
    rows = [("Objects", fmt_int(int(result.objects[k]))), ("Detections", fmt_int(len(index)))]
    rows += [(f"#{r + 1} {det.scores[i]:.2f}", f"{'TP' if t else 'FP'} · precision {p:.2f} · recall {q:.2f}")
             for r, (i, t, p, q) in enumerate(zip(index.tolist(), tp.tolist(), precision, recall)) if r < _TABLE_ROWS]
    if len(index) > _TABLE_ROWS:
        more = len(index) - _TABLE_ROWS
        rows.append(("…", f"{more} more detection{'s' if more > 1 else ''}"))
    rows.append((f"AP50 ({name})", f"{100 * result.ap50[k]:.1f}"))
    caption = (f"{name}: its {fmt_int(len(index))} detections ranked by score, each a true positive (IoU ≥ 0.5 with "
               f"a free {name}) or a false positive; precision and recall after each give the curve, and AP50 = "
               f"{100 * result.ap50[k]:.1f} is the area under its interpolated envelope (101 recall points, "
               f"pycocotools).")
    legend = (("true positive", POSITIVE), ("false positive", FALSE_POSITIVE), ("ground truth", GT_COLOR),
              ("precision, recall after each detection", CURVE), ("interpolated precision", ENVELOPE),
              ("area = AP", AREA))
    return ViewFrame(layers, caption, rows, step, steps, name, legend=legend)


def map_frame(inference: Inference, step: int | None = None,
              gt: tuple[ArrayLike, ArrayLike] | None = None) -> ViewFrame:
    """Step 0: every detection TP / FP at IoU 0.5; 1…K: one class with objects each; K + 1: mAP50 and COCO AP."""
    gt = as_gt(gt)
    if gt is None or not (gt[1] > 0).any():
        raise ViewError("mAP compares the detections with ground truth: load annotations for this image.")
    result = image_ap(inference, gt)
    det = inference.detections
    steps = len(result.classes) + 2
    step = steps - 1 if step is None else min(max(int(step), 0), steps - 1)
    if 1 <= step <= len(result.classes):
        worst_first = np.argsort(result.ap50, kind="stable")
        return _class_frame(inference, gt, result, int(worst_first[step - 1]), step, steps)
    layers: list = [gt_layer(gt, det.class_names)]
    if len(det) and step == 0:
        layers.append(_tp_fp_layer(inference, np.argsort(-det.scores, kind="stable"), result.tp, ranked=False))
    names = [det.name_of(int(c)) for c in result.classes]
    rows = [(f"AP50 {n}", f"{100 * a:.1f}") for n, a in zip(names, result.ap50)]
    rows += [("mAP50 (mean of the above)", f"{100 * result.map50:.1f}"),
             ("COCO AP@[.5:.95]", f"{100 * result.coco_ap:.1f}")]
    n_tp = int(result.tp.sum())
    legend = (("true positive (IoU ≥ 0.5)", POSITIVE), ("false positive", FALSE_POSITIVE), ("ground truth", GT_COLOR))
    if step == 0:
        caption = (f"Every detection the model output ({fmt_int(len(det))}, scores down to its own threshold) matched "
                   f"to the ground truth class by class, best score first, at IoU ≥ 0.5: {fmt_int(n_tp)} true "
                   f"positives, {fmt_int(len(det) - n_tp)} false positives.")
        rows = [("Detections", fmt_int(len(det))), ("True positives", fmt_int(n_tp)),
                ("False positives", fmt_int(len(det) - n_tp)), ("Objects", fmt_int(int(result.objects.sum())))]
        return ViewFrame(layers, caption, rows, step, steps, "TP and FP", legend=legend)
    height, width = inference.image_size
    rect = np.array([0.1 * width, 0.12 * height, 0.9 * width, 0.88 * height], np.float32)
    layers = bar_chart_layers(rect, names, result.ap50, class_colors(result.classes), "AP50 per class")
    caption = (f"mAP50 = mean of the {len(names)} classes' AP50 = {100 * result.map50:.1f} (0–100 scale); COCO's AP "
               f"averages the same over IoU 0.5, 0.55, …, 0.95: {100 * result.coco_ap:.1f}, lower because it also "
               "asks for tight boxes. One image only: a dataset's mAP pools every image's detections per class.")
    legend = tuple((n, tuple(int(v) for v in c)) for n, c in zip(names, class_colors(result.classes)))
    return ViewFrame(layers, caption, rows, step, steps, "mAP", legend=legend)


def _build(request: ViewRequest) -> ViewFrame:
    return map_frame(request.inference, request.step, gt=request.gt_pair)


SPEC = ViewSpec(
    "map", "mAP", _build, step_count=counted(map_steps),
    help="Steps: the detections as true / false positives at IoU 0.5, each class's ranked detections and PR curve "
         "(AP50 = the area), then mAP50 beside COCO's AP@[.5:.95]. Needs ground truth.")
