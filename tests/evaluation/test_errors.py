"""TIDE's error types for single boxes: the rule order, and the window's captions built on it."""

from __future__ import annotations

import numpy as np

from detviewer.core.matching import match_to_ground_truth
from detviewer.evaluation.errors import BKG, BOTH, CLS, DUPE, LOC, classify_overlaps, false_positive_reasons


def test_rule_order_by_hand():
    # columns: same-class best, other-class best, taken same-class best, any best, image has objects
    rows = [
        (0.3, 0.9, 0.3, 0.9, True),   # loc is tested before cls
        (0.5, 0.0, 0.5, 0.5, True),   # exactly the threshold counts as loc (tidecv: bg <= iou <= pos)
        (0.05, 0.7, 0.0, 0.7, True),  # cls
        (0.8, 0.0, 0.8, 0.8, True),   # a taken object of its class: dupe
        (0.0, 0.05, 0.0, 0.05, True),  # nothing above 0.1: bkg
        (0.0, 0.3, 0.0, 0.3, True),   # other class, loosely: both
        (0.9, 0.9, 0.9, 0.9, False),  # an image without objects: bkg whatever the numbers say
    ]
    same, other, taken, best, has = (np.array(c) for c in zip(*rows))
    codes = classify_overlaps(same, other, taken, best, has, 0.5)
    assert codes.tolist() == [LOC, LOC, CLS, DUPE, BKG, BOTH, BKG]


def test_window_reasons_follow_the_same_rule():
    gt = np.array([[0, 0, 40, 40], [100, 100, 140, 140], [150, 0, 190, 40]], np.float32)
    gt_labels, names = np.array([1, 1, 2]), ("cat", "cat", "dog")
    det = np.array([[0, 0, 40, 40],      # TP
                    [0, 0, 40, 36],      # duplicate of the first cat
                    [150, 0, 190, 40],   # a cat on the dog: wrong class
                    [100, 100, 125, 125],  # the second cat, boxed loosely (IoU 0.39)
                    [60, 60, 80, 80],    # background
                    [150, 10, 200, 60]], np.float32)  # a cat over the dog, loosely: both
    labels = np.array([1, 1, 1, 1, 1, 1])
    match = match_to_ground_truth(det, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], labels, gt, gt_labels, 0.5)
    reasons = false_positive_reasons(labels, match, gt_labels, names, np.zeros(3, bool))
    assert reasons == ["duplicate", "wrong class (dog)", "IoU 0.39", "background", "wrong class, loose (dog)"]
