"""Why a false positive is one: TIDE's error types, one rule for the dataset and for the window.

TIDE (Bolya et al., ECCV 2020, the ``tidecv`` package) sorts every detection that is not a true
positive, at a foreground IoU ``pos`` (the matching threshold) and a background IoU ``bg`` (0.1),
by testing in this order (``tidecv.quantify.TIDERun._eval_image``):

1. the image has no objects: **bkg**;
2. its best IoU with an object *of its class* lies in [bg, pos]: **loc** (found, boxed loosely);
3. its best IoU with an object *of another class* is >= pos: **cls** (right place, wrong class);
4. its best IoU with an object of its class that another detection already took is >= pos:
   **dupe** (a duplicate of a higher-scoring true positive);
5. its best IoU with any object is <= bg: **bkg** (background);
6. anything else: **both** (wrong class and loosely boxed).

Ground-truth objects no detection matched are **missed**. Crowd regions are not objects here.
The window's false-positive captions (``render.model.gt_layers``) and the dataset evaluation's
per-box errors both call :func:`classify_overlaps`, so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from detviewer.core.matching import GtMatch

__all__ = ["ERROR_TYPES", "ERROR_NAMES", "CLS", "LOC", "BOTH", "DUPE", "BKG", "MISSED", "BACKGROUND_IOU",
           "classify_overlaps", "classify_false_positives", "false_positive_reasons"]

#: Error type codes (int8), in TIDE's order; -1 means "not an error".
CLS, LOC, BOTH, DUPE, BKG, MISSED = range(6)
ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "missed")
ERROR_NAMES = ("classification", "localisation", "both", "duplicate", "background", "missed")
#: TIDE's background threshold: below this IoU with every object a detection is background.
BACKGROUND_IOU = 0.1


def classify_overlaps(same_best: ArrayLike, other_best: ArrayLike, taken_same_best: ArrayLike, any_best: ArrayLike,
                      has_objects: ArrayLike, iou_threshold: float,
                      background_iou: float = BACKGROUND_IOU) -> np.ndarray:
    """TIDE's error type of each false positive from its best overlaps (all (N,) arrays).

    same_best: best IoU with an object of its class; other_best: with an object of another class;
    taken_same_best: with an object of its class that a true positive took; any_best: with any object
    (0 where there is none); has_objects (N,) bool: its image has objects. Returns (N,) int8 codes
    (CLS, LOC, BOTH, DUPE, BKG), tested in TIDE's order (see the module docstring).
    """
    same_best, other_best = np.asarray(same_best, np.float64), np.asarray(other_best, np.float64)
    taken_same_best, any_best = np.asarray(taken_same_best, np.float64), np.asarray(any_best, np.float64)
    codes = np.full(same_best.shape, BOTH, np.int8)
    # Assign from the last test to the first so that the first test that holds wins.
    codes[any_best <= background_iou] = BKG
    codes[taken_same_best >= iou_threshold] = DUPE
    codes[other_best >= iou_threshold] = CLS
    codes[(background_iou <= same_best) & (same_best <= iou_threshold)] = LOC
    codes[~np.asarray(has_objects, bool)] = BKG
    return codes


def classify_false_positives(det_labels: ArrayLike, ious: ArrayLike, gt_labels: ArrayLike, gt_taken: ArrayLike,
                             false_positive: ArrayLike, iou_threshold: float,
                             background_iou: float = BACKGROUND_IOU) -> np.ndarray:
    """Error codes of one image's detections (-1 for those that are not false positives).

    det_labels (D,) int; ious (D, M) float IoU with the image's objects (crowd regions left out);
    gt_labels (M,); gt_taken (M,) bool objects a true positive matched; false_positive (D,) bool.
    """
    det_labels = np.asarray(det_labels).reshape(-1)
    gt_labels = np.asarray(gt_labels).reshape(-1)
    ious = np.asarray(ious, np.float64).reshape(len(det_labels), len(gt_labels))
    same = det_labels[:, None] == gt_labels[None, :]
    taken = np.asarray(gt_taken, bool).reshape(1, -1)
    has = ious.shape[1] > 0

    def best(mask: np.ndarray) -> np.ndarray:
        return np.where(mask, ious, 0.0).max(axis=1) if has else np.zeros(len(det_labels))

    codes = classify_overlaps(best(same), best(~same), best(same & taken), best(np.ones_like(same)),
                              np.full(len(det_labels), has), iou_threshold, background_iou)
    return np.where(np.asarray(false_positive, bool), codes, np.int8(-1)).astype(np.int8)


#: The two rules a box is explained by, each shown beside the other: the canvas's labels (and TIDE, and the
#: Images tab's worst error) match per class as COCO does; the confusion matrix matches across classes.
FP_RULE = "why: COCO matching per class, TIDE's error types"
MATRIX_RULE = "cell: class-agnostic matching, as Ultralytics' confusion matrix"


def explain_false_positives(det_xyxy: ArrayLike, det_scores: ArrayLike, det_labels: ArrayLike, gt_xyxy: ArrayLike,
                            gt_labels: ArrayLike, gt_names: Sequence[str], gt_crowd: ArrayLike,
                            iou_threshold: float = 0.5) -> tuple[GtMatch, dict[int, str]]:
    """The one rule saying why a detection of one image is a false positive: (core.matching.GtMatch, {detection
    index: reason}) for detections (D, 4) xyxy / (D,) / (D,) against objects (M, 4) / (M,) / names / crowd (M,).

    The canvas labels its false positives with it, and a confusion-matrix cell labels the boxes behind it with
    it (the cell itself follows MATRIX_RULE, said beside it).
    """
    from detviewer.core.matching import match_to_ground_truth

    match = match_to_ground_truth(det_xyxy, det_scores, det_labels, gt_xyxy, gt_labels, iou_threshold,
                                  gt_crowd=gt_crowd)
    fp = np.flatnonzero(match.fp)
    reasons = false_positive_reasons(det_labels, match, gt_labels, gt_names, gt_crowd) if len(fp) else []
    return match, dict(zip((int(i) for i in fp), reasons))


def false_positive_reasons(det_labels: ArrayLike, match: GtMatch, gt_labels: ArrayLike, gt_names: Sequence[str],
                           gt_crowd: ArrayLike) -> list[str]:
    """Why each false positive of a ``core.matching.GtMatch`` is one, in a few words, in TIDE's terms.

    det_labels (D,) of the matched detections; gt_labels / gt_names / gt_crowd (M,) of the GT they were
    matched to (crowd regions are no objects: left out). "duplicate", "wrong class (cat)", "IoU 0.32" (its
    object, boxed too loosely), "wrong class, loose (cat)" (both), "background".
    """
    det_labels = np.asarray(det_labels).reshape(-1)
    objects = ~np.asarray(gt_crowd, bool)
    ious = np.asarray(match.ious, np.float64).reshape(len(det_labels), len(objects))[:, objects]
    labels = np.asarray(gt_labels)[objects]
    names = [n for n, o in zip(gt_names, objects) if o]
    taken = np.zeros(len(objects), bool)
    taken[match.matched_gt[match.matched_gt >= 0]] = True
    fp = np.asarray(match.fp, bool)
    codes = classify_false_positives(det_labels, ious, labels, taken[objects], fp, match.iou_threshold)
    reasons = []
    for i in np.flatnonzero(fp):
        same = labels == det_labels[i]
        other_gt = int(np.argmax(np.where(~same, ious[i], -1.0))) if len(labels) else -1
        code = codes[i]
        if code == LOC:
            reasons.append(f"IoU {ious[i][same].max():.2f}")
        elif code == CLS:
            reasons.append(f"wrong class ({names[other_gt]})")
        elif code == BOTH:
            reasons.append(f"wrong class, loose ({names[other_gt]})")
        else:
            reasons.append("duplicate" if code == DUPE else "background")
    return reasons
