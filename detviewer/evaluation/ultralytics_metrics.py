"""Ultralytics' own mAP50 and mAP50-95 (``yolo val``'s numbers), and why they differ from pycocotools'.

Ultralytics 8.4's rules, read from its code:

- ``engine/validator.py`` ``match_predictions``: per image, detections in falling confidence; at each of the
  ten IoU thresholds 0.5:0.95 a detection takes the unclaimed target of its class with the highest IoU (the
  first in label order on a tie) if that IoU reaches the threshold; only detections with some IoU >= 0.5 try.
  IoU is ``utils/metrics.py`` ``box_iou`` in float32 with ``eps=1e-7`` in the union. There is no crowd: its
  converters drop COCO ``iscrowd`` and VOC ``difficult`` objects, so a detection on one is a false positive.
- ``utils/metrics.py`` ``ap_per_class``: all detections sorted by ``np.argsort(-conf)``; per class with labels,
  recall = TP / (labels + 1e-16), precision = TP / (TP + FP); ``compute_ap``: sentinels (0, 1) before and
  (last recall, 0), (1, 0) after, the precision envelope, ``np.interp`` at 101 recall points and the trapezoid
  rule over them. mAP50 / mAP50-95: the mean over the classes that have labels. No per-image detection limit
  besides NMS' ``max_det``.

pycocotools differs in four rules: 101-point *step* sampling of the envelope (no trapezoid), at most 100
detections per image and class, crowd (and here difficult) objects ignored rather than absent, and its own
greedy matching (non-ignored targets first, ties to the later target). :func:`explain` switches them one at a
time, from pycocotools' rules to Ultralytics', and says in one sentence which changed the number and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.coco_eval import match_detections
from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes

__all__ = ["IOU_THRESHOLDS", "UltralyticsMap", "ultralytics_map", "match_predictions", "compute_ap",
           "Provenance", "explain"]

#: ``torch.linspace(0.5, 0.95, 10)`` as Ultralytics builds ``iouv`` (float32).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10).astype(np.float32)
_AP_X = np.linspace(0, 1, 101)
_COCO_RECALLS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
PREDICT_FLOOR = 0.25  # yolo predict's conf: the floor a "why is my number lower" run often used


@dataclass(frozen=True)
class UltralyticsMap:
    """map50, map (mAP50-95); ap (C, 10) per class at each IoU threshold (NaN: the class has no labels)."""

    map50: float
    map: float
    ap: np.ndarray


def compute_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Ultralytics' ``compute_ap``: envelope with sentinels, 101-point ``np.interp``, trapezoid rule."""
    mrec = np.concatenate(([0.0], recall, [recall[-1] if len(recall) else 1.0], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    return float(np.trapezoid(np.interp(_AP_X, mrec, mpre), _AP_X))


def _coco_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """pycocotools' ``accumulate`` for one class and threshold: the envelope sampled at 101 recall steps
    (``searchsorted(side='left')``, 0 past the last recall), then their mean."""
    if not len(precision):
        return 0.0
    pr = np.maximum.accumulate(np.asarray(precision, np.float64)[::-1])[::-1]
    index = np.searchsorted(recall, _COCO_RECALLS, side="left")
    q = np.zeros(len(_COCO_RECALLS))
    valid = index < len(pr)
    q[valid] = pr[index[valid]]
    return float(q.mean())


def _xyxy32(xywh: np.ndarray) -> np.ndarray:
    box = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.c_[box[:, :2], box[:, :2] + box[:, 2:]].astype(np.float32)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ultralytics' ``box_iou`` (float32, eps 1e-7): (N, 4) x (M, 4) xyxy -> (N, M)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + np.float32(1e-7))


def match_predictions(pred_classes: np.ndarray, true_classes: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """Ultralytics' ``match_predictions`` (greedy, no scipy): pred_classes (N,) in falling confidence,
    true_classes (M,), iou (M, N) -> correct (N, 10) bool."""
    correct = np.zeros((len(pred_classes), len(IOU_THRESHOLDS)), bool)
    iou = iou * (true_classes[:, None] == pred_classes[None, :])
    matched = np.zeros((iou.shape[0], len(IOU_THRESHOLDS)), bool)
    columns = np.arange(len(IOU_THRESHOLDS))
    for j in np.flatnonzero((iou >= IOU_THRESHOLDS.min()).any(0)):
        available = np.where(matched, 0, iou[:, j, None])
        k = available.argmax(0)
        correct[j] = available[k, columns] >= IOU_THRESHOLDS
        matched[k, columns] |= correct[j]
    return correct


def _without_crowd(gt: GroundTruthBoxes) -> GroundTruthBoxes:
    """The ground truth as Ultralytics' converters leave it: no crowd (nor VOC difficult) objects."""
    keep = ~gt.crowd
    return GroundTruthBoxes(gt.image_index[keep], gt.category_index[keep], gt.xywh[keep], gt.area[keep],
                            gt.crowd[keep], gt.difficult[keep], gt.ids[keep])


def _ultralytics_tp(gt: GroundTruthBoxes, dt: DetectionBoxes) -> tuple[np.ndarray, np.ndarray]:
    """(order (D,) detections in image order then falling score, tp (D, 10)) by ``match_predictions``."""
    order = np.lexsort((np.arange(len(dt)), -dt.scores, dt.image_index))
    tp = np.zeros((len(dt), len(IOU_THRESHOLDS)), bool)
    gt_sorted = np.argsort(gt.image_index, kind="stable")
    gt_starts = np.searchsorted(gt.image_index[gt_sorted], np.arange(int(max(gt.image_index.max(initial=-1),
                                                                             dt.image_index.max(initial=-1))) + 2))
    images, starts = np.unique(dt.image_index[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    for image, s, e in zip(images.tolist(), starts.tolist(), ends.tolist()):
        rows = gt_sorted[gt_starts[image]:gt_starts[image + 1]] if image + 1 < len(gt_starts) else gt_sorted[:0]
        if not len(rows):
            continue
        dets = order[s:e]
        iou = _box_iou(_xyxy32(gt.xywh[rows]), _xyxy32(dt.xywh[dets]))
        tp[s:e] = match_predictions(dt.category_index[dets], gt.category_index[rows], iou)
    return order, tp


def _coco_tp(gt: GroundTruthBoxes, dt: DetectionBoxes, num_classes: int,
             max_dets: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detections taking part (D,), tp (D, 10), fp (D, 10)) by pycocotools' matching (area "all"); a detection
    matched to an ignored (crowd) object is neither at that threshold, as in pycocotools."""
    matches = match_detections(gt, dt, num_classes, max_dets=max_dets, area_ranges=(("all", 0.0, 1e5 ** 2),))
    counted = np.r_[gt.ids != 0, False][matches.matched_gt[0]]  # (T, D); a match to id 0 is none
    ignored = matches.det_ignore[0]
    return matches.det, (counted & ~ignored).T, (~counted & ~ignored).T


def _mean_ap(det: np.ndarray, tp: np.ndarray, dt: DetectionBoxes, gt: GroundTruthBoxes, num_classes: int,
             interpolation: str, fp: np.ndarray | None = None) -> np.ndarray:
    """(C, 10) AP per class (NaN for classes without counted labels) of detections ``det`` with flags ``tp``
    (and ``fp``; default: every detection not a TP)."""
    fp = ~tp if fp is None else fp
    labels = np.bincount(gt.category_index[~gt.crowd], minlength=num_classes)[:num_classes]
    conf = dt.scores[det].astype(np.float32)
    if interpolation == "ultralytics":
        i = np.argsort(-conf)  # not stable: Ultralytics' own call, on the same float32 scores
    else:  # pycocotools: -score, mergesort, over detections concatenated per image in its order
        i = np.argsort(-dt.scores[det], kind="mergesort")
    det, tp, fp = det[i], tp[i], fp[i]
    classes = dt.category_index[det]
    ap = np.full((num_classes, len(IOU_THRESHOLDS)), np.nan)
    for c in np.flatnonzero(labels):
        mine = classes == c
        if not mine.any():
            ap[c] = 0.0
            continue
        tpc = np.cumsum(tp[mine], axis=0)
        fpc = np.cumsum(fp[mine], axis=0)
        if interpolation == "ultralytics":
            recall, precision = tpc / (labels[c] + 1e-16), tpc / (tpc + fpc)
            ap[c] = [compute_ap(recall[:, t], precision[:, t]) for t in range(tp.shape[1])]
        else:
            recall, precision = tpc / labels[c], tpc / (tpc + fpc + np.spacing(1))
            ap[c] = [_coco_ap(recall[:, t], precision[:, t]) for t in range(tp.shape[1])]
    return ap


def _summary(ap: np.ndarray) -> tuple[float, float]:
    rows = ~np.isnan(ap[:, 0])
    return (float(ap[rows, 0].mean()), float(ap[rows].mean())) if rows.any() else (0.0, 0.0)


def ultralytics_map(gt: GroundTruthBoxes, dt: DetectionBoxes, num_classes: int) -> UltralyticsMap:
    """``yolo val``'s mAP50 and mAP50-95 of detections ``dt`` against ``gt`` (see the module docstring)."""
    gt = _without_crowd(gt)
    order, tp = _ultralytics_tp(gt, dt)
    ap = _mean_ap(order, tp, dt, gt, num_classes, "ultralytics")
    map50, map5095 = _summary(ap)
    return UltralyticsMap(map50, map5095, ap)


@dataclass(frozen=True)
class Provenance:
    """pycocotools' (AP50, AP) and the framework's (mAP50, mAP50-95) on the same detections; steps: (rule,
    ΔAP50, ΔAP50-95) switching one rule at a time from pycocotools' to the framework's; floor: (floor, ΔmAP50,
    ΔmAP50-95) of keeping only detections above predict's 0.25 (None when the run's own floor is that high)."""

    coco: tuple[float, float]
    framework: tuple[float, float]
    steps: tuple[tuple[str, float, float], ...]
    floor: tuple[float, float, float] | None

    def sentence(self, framework: str = "Ultralytics") -> str:
        """One sentence naming what makes the two differ and by how much."""
        (c50, c), (f50, f) = self.coco, self.framework
        moved = sorted((s for s in self.steps if abs(s[2]) >= 5e-4 or abs(s[1]) >= 5e-4),
                       key=lambda s: -abs(s[2]))
        parts = [f"{name} {d:+.3f}" for name, _, d in moved]
        why = f"; in mAP50-95: {', '.join(parts)}" if parts else "; no rule changes them by 0.0005 or more"
        owner = f"{framework}'" if framework.endswith("s") else f"{framework}'s"
        text = (f"{owner} rules give mAP50 {f50:.3f} / mAP50-95 {f:.3f} where pycocotools gives {c50:.3f} / "
                f"{c:.3f} ({f50 - c50:+.3f} / {f - c:+.3f}){why}")
        if self.floor is not None:
            text += (f"; a score floor of {self.floor[0]:g} (yolo predict's) would change them by "
                     f"{self.floor[1]:+.3f} / {self.floor[2]:+.3f}")
        return text + "."

    def as_dict(self) -> dict:
        return {"pycocotools": {"AP50": self.coco[0], "AP": self.coco[1]},
                "framework": {"mAP50": self.framework[0], "mAP50-95": self.framework[1]},
                "steps": [{"rule": n, "dAP50": a, "dAP50-95": b} for n, a, b in self.steps],
                "floor": None if self.floor is None else {"score": self.floor[0], "dmAP50": self.floor[1],
                                                          "dmAP50-95": self.floor[2]},
                "sentence": self.sentence()}


def explain(gt: GroundTruthBoxes, dt: DetectionBoxes, num_classes: int) -> Provenance:
    """pycocotools' numbers, then each of its rules switched to Ultralytics' in turn: max detections (100 per
    image and class -> none), crowd handling (ignored -> absent), matching, interpolation (step -> trapezoid);
    the last is ``ultralytics_map``. Each step's change is computed, not assumed."""
    points = []
    det, tp, fp = _coco_tp(gt, dt, num_classes, 100)
    points.append(("pycocotools", _summary(_mean_ap(det, tp, dt, gt, num_classes, "coco", fp))))
    det, tp, fp = _coco_tp(gt, dt, num_classes, None)
    points.append(("max detections", _summary(_mean_ap(det, tp, dt, gt, num_classes, "coco", fp))))
    plain = _without_crowd(gt)
    det, tp, fp = _coco_tp(plain, dt, num_classes, None)
    points.append(("crowd handling", _summary(_mean_ap(det, tp, dt, plain, num_classes, "coco", fp))))
    order, tp = _ultralytics_tp(plain, dt)
    points.append(("matching", _summary(_mean_ap(order, tp, dt, plain, num_classes, "coco"))))
    points.append(("interpolation", _summary(_mean_ap(order, tp, dt, plain, num_classes, "ultralytics"))))
    steps = tuple((name, b[0] - a[0], b[1] - a[1]) for (_, a), (name, b) in zip(points, points[1:]))
    floor = None
    if len(dt) and float(dt.scores.min()) < PREDICT_FLOOR:
        keep = dt.scores > PREDICT_FLOOR
        high = DetectionBoxes(dt.image_index[keep], dt.category_index[keep], dt.xywh[keep], dt.scores[keep])
        m = ultralytics_map(gt, high, num_classes)
        floor = (PREDICT_FLOOR, m.map50 - points[-1][1][0], m.map - points[-1][1][1])
    return Provenance(points[0][1], points[-1][1], steps, floor)
