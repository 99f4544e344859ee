"""The loaded model's own training rules (``Inference.rules``) in words, and anchor labels computed with them.

An anchor-based model labels its anchors / default boxes with its own matcher: Faster R-CNN's RPN
(Matcher 0.7 / 0.3 with best-for-a-box matches, 256 per image at most half positive), SSD (SSDMatcher 0.5:
each object's best default box and every box at IoU ≥ 0.5, no ignored band, hard negatives 3:1) and
RetinaNet (Matcher 0.5 / 0.4, no sampling: the focal loss weighs every anchor). Nothing here hard-codes a
threshold: the numbers come from the MatchRule the adapter read from the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detviewer.core.types import Inference, MatchRule
from detviewer.render.model.geometry import all_anchor_boxes
from detviewer.render.model.primitives import IGNORED, NEGATIVE, POSITIVE, ViewError, fmt_int, fmt_num, memo

__all__ = ["AnchorLabels", "ANCHOR_STAGES", "model_rule", "anchor_rule", "rule_title", "rule_sentence",
           "label_sentence", "label_anchors", "label_legend", "has_ignored_band"]

#: Stages whose rule labels a model's anchors, in the order they are looked for.
ANCHOR_STAGES = ("rpn", "ssd", "retinanet")
_TITLES = {"rpn": "the RPN", "box_head": "the box head", "ssd": "SSD", "retinanet": "RetinaNet"}


@dataclass(frozen=True, eq=False)
class AnchorLabels:
    """Training labels of every anchor (flat order over all levels) under ``rule``.

    labels (K,) int8 1 positive / 0 negative / -1 ignored; matched_gt (K,) int64; max_iou (K,) float32;
    sampled_positive / sampled_negative: flat indices one training step uses (the RPN's sampler, SSD's
    positives and hard negatives - hardest first -, RetinaNet: every positive and negative).
    """

    rule: MatchRule
    labels: np.ndarray
    matched_gt: np.ndarray
    max_iou: np.ndarray
    sampled_positive: np.ndarray
    sampled_negative: np.ndarray


def model_rule(inference: Inference, stage: str) -> MatchRule | None:
    """The model's rule for ``stage`` ("rpn", "box_head", "ssd", "retinanet"), or None."""
    return next((r for r in inference.rules if r.stage == stage), None)


def anchor_rule(inference: Inference) -> MatchRule | None:
    """The rule that labels this model's anchors (RPN, SSD or RetinaNet), or None (FCOS, a YOLO)."""
    return next((r for r in (model_rule(inference, s) for s in ANCHOR_STAGES) if r is not None), None)


def rule_title(rule: MatchRule) -> str:
    return _TITLES.get(rule.stage, rule.stage)


def has_ignored_band(rule: MatchRule) -> bool:
    return rule.bg_iou < rule.fg_iou


def _thresholds(rule: MatchRule) -> str:
    if rule.matcher == "SSDMatcher" or not has_ignored_band(rule):
        return f"{rule.matcher} {fmt_num(rule.fg_iou)}"
    return f"{rule.matcher} {fmt_num(rule.fg_iou)} / {fmt_num(rule.bg_iou)}"


def _sampling(rule: MatchRule) -> str:
    if rule.batch_size > 0:
        share = ("at most half positive" if abs(rule.positive_fraction - 0.5) < 1e-6
                 else f"at most {fmt_num(100 * rule.positive_fraction)} % positive")
        return f"{fmt_int(rule.batch_size)} per image, {share}"
    if rule.neg_to_pos > 0:
        return f"hard negatives {fmt_num(rule.neg_to_pos)}:1"
    return "no sampling: the focal loss weighs every labelled anchor"


def rule_sentence(rule: MatchRule) -> str:
    """"SSD's rule (SSDMatcher 0.5): …; hard negatives 3:1." / "The RPN's rule (Matcher 0.7 / 0.3): …" — what the
    model's own training does."""
    fg, bg = fmt_num(rule.fg_iou), fmt_num(rule.bg_iou)
    best = "each object's best box" if rule.matcher == "SSDMatcher" else "the best box of an object"
    positive = f"IoU ≥ {fg}" + (f" or {best}" if rule.low_quality else "")
    if has_ignored_band(rule):
        negative = f"negative below {bg}, ignored between"
    else:
        negative = "every other box negative (no ignored band)"
    title = rule_title(rule)
    return (f"{title[0].upper() + title[1:]}'s rule ({_thresholds(rule)}): positive at {positive}, {negative}; "
            f"{_sampling(rule)}.")


def label_sentence(labels: AnchorLabels, shown: np.ndarray | None = None) -> str:
    """'8 positive (green), 5,821 negative (blue)[, 251 ignored (grey)]' over ``shown`` flat indices (all)."""
    values = labels.labels if shown is None else labels.labels[shown]
    pos, neg, ign = (int((values == v).sum()) for v in (1, 0, -1))
    text = f"{fmt_int(pos)} positive (green), {fmt_int(neg)} negative (blue)"
    return text + (f", {fmt_int(ign)} ignored (grey)" if has_ignored_band(labels.rule) else "")


def label_legend(rule: MatchRule, sampled: bool = False) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Legend entries for the label colours under ``rule``."""
    fg, bg = fmt_num(rule.fg_iou), fmt_num(rule.bg_iou)
    if sampled:
        negative = "hard negative" if rule.neg_to_pos > 0 else "sampled negative"
        return ((f"sampled positive (IoU ≥ {fg})", POSITIVE), (negative, NEGATIVE))
    entries = [(f"positive (IoU ≥ {fg}" + (" or best" if rule.low_quality else "") + ")", POSITIVE),
               (f"negative (IoU < {bg})", NEGATIVE)]
    if has_ignored_band(rule):
        entries.append((f"ignored ({bg} ≤ IoU < {fg})", IGNORED))
    return tuple(entries)


def _hard_negatives(inference: Inference, labels: np.ndarray, ratio: float) -> np.ndarray:
    """SSD's hard negative mining, ranking background boxes by the head's 1 − P(background): the background
    cross-entropy −log P(background) grows with it, so both rank alike. Empty when the head gave no scores."""
    from detviewer.ops.assign import hard_negative_mining

    if any(a.objectness is None for a in inference.anchors):
        return np.zeros(0, np.int64)
    objectness = np.concatenate([a.objectness for a in inference.anchors]).astype(np.float64)
    loss = -np.log(np.clip(1.0 - objectness, 1e-12, 1.0))
    return hard_negative_mining(loss, labels, int(round(ratio)))


def label_anchors(inference: Inference, gt_boxes, rule: MatchRule | None = None, seed: int = 0) -> AnchorLabels:
    """Label every anchor as the model's training does (``rule``: the model's own by default).

    gt_boxes (M, 4) xyxy original pixels (IoU does not change with the resize, so original pixels give the
    same labels as the model's input pixels). Memoised per Inference.
    """
    from detviewer.ops.sampling import match_with_rule, sample_with_rule

    rule = rule or anchor_rule(inference)
    if rule is None:
        raise ViewError(f"{inference.model_name} assigns its training targets without an IoU matcher; "
                        "there are no anchor labels to show.")
    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)

    def compute() -> AnchorLabels:
        labels, matched, max_iou = match_with_rule(all_anchor_boxes(inference), gt_boxes, rule)
        if rule.neg_to_pos > 0:
            positive = np.flatnonzero(labels == 1).astype(np.int64)
            negative = _hard_negatives(inference, labels, rule.neg_to_pos)
        else:
            positive, negative = sample_with_rule(labels, rule, seed)
        return AnchorLabels(rule, labels, matched, max_iou, positive, negative)

    return memo(inference, ("anchor_labels", gt_boxes.tobytes(), rule, seed), compute)
