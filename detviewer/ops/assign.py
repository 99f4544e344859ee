"""Anchor <-> ground-truth assignment as torchvision's detectors train it (Qt-free).

Thin wrappers over torchvision's own ``Matcher``, ``SSDMatcher`` and
``BalancedPositiveNegativeSampler`` so the teaching views show exactly what training does.
All boxes are (N, 4) xyxy pixels, numpy arrays or torch tensors; results are numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler, Matcher, SSDMatcher
from torchvision.ops import box_iou

from detviewer.ops.boxes import ArrayOrTensor, as_tensor

__all__ = ["label_rpn_anchors", "sample_rpn_minibatch", "match_ssd_default_boxes", "hard_negative_mining"]


def _boxes(value: ArrayOrTensor, name: str) -> torch.Tensor:
    tensor = as_tensor(value, torch.float32)
    if tensor.numel() == 0:
        return tensor.reshape(0, 4)
    if tensor.dim() != 2 or tensor.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {tuple(tensor.shape)}")
    return tensor


def _match(anchors: ArrayOrTensor, gt_boxes: ArrayOrTensor, matcher: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels int8, matched_gt int64, max_iou float32) from a torchvision matcher."""
    anchors, gt = _boxes(anchors, "anchors"), _boxes(gt_boxes, "gt_boxes")
    k = anchors.shape[0]
    if gt.shape[0] == 0 or k == 0:  # torchvision's Matcher raises on empty input
        return np.zeros(k, np.int8), np.full(k, -1, np.int64), np.zeros(k, np.float32)
    quality = box_iou(gt, anchors)  # (G, K), as the models compute it
    matched = matcher(quality)
    labels = torch.where(matched >= 0, 1, 0)
    labels[matched == Matcher.BETWEEN_THRESHOLDS] = -1
    return (labels.numpy().astype(np.int8), matched.clamp(min=-1).numpy().astype(np.int64),
            quality.max(dim=0).values.numpy().astype(np.float32))


def label_rpn_anchors(anchors: ArrayOrTensor, gt_boxes: ArrayOrTensor, fg_iou: float = 0.7,
                      bg_iou: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label anchors for RPN training like ``RegionProposalNetwork.assign_targets_to_anchors``.

    anchors (K, 4), gt_boxes (G, 4) xyxy pixels. Uses ``Matcher(fg_iou, bg_iou,
    allow_low_quality_matches=True)``: an anchor is positive when its best IoU is
    ``>= fg_iou`` (greater *or equal*), negative when ``< bg_iou``, ignored in between; and
    every anchor tied for the best IoU of some GT box is positive too, matched to its own
    best GT. torchvision quirk, kept: a GT box that overlaps no anchor has best IoU 0, so every
    anchor with IoU 0 to it becomes positive.
    Returns labels (K,) int8 (1 positive / 0 negative / -1 ignored), matched_gt (K,) int64
    (index of the matched GT box for positives, -1 otherwise) and max_iou (K,) float32 (best
    IoU with any GT box). No GT boxes: every anchor is negative.
    """
    return _match(anchors, gt_boxes, Matcher(fg_iou, bg_iou, allow_low_quality_matches=True))


def match_ssd_default_boxes(default_boxes: ArrayOrTensor, gt_boxes: ArrayOrTensor,
                            iou: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match SSD default boxes to GT boxes like ``SSD.compute_loss`` (torchvision's SSDMatcher).

    default_boxes (D, 4), gt_boxes (G, 4) xyxy pixels. A default box is positive when its best
    IoU is ``>= iou``; besides, each GT box claims its single best default box (the first on
    ties), whatever the IoU (when two GT boxes claim the same box, torch's indexing decides).
    Returns labels (D,) int8 (1 positive / 0 background), matched_gt (D,) int64 (-1 for
    background) and max_iou (D,) float32. No GT boxes: everything is background.
    """
    return _match(default_boxes, gt_boxes, SSDMatcher(iou))


def sample_rpn_minibatch(labels: ArrayOrTensor, batch_size: int = 256, positive_fraction: float = 0.5,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pick the anchors one RPN training step uses (``BalancedPositiveNegativeSampler``).

    labels (K,) from ``label_rpn_anchors`` (1 / 0 / -1). At most ``batch_size *
    positive_fraction`` positives, negatives fill the rest of ``batch_size``; ignored anchors
    are never drawn. ``seed`` makes the draw repeatable without touching torch's global RNG.
    Returns (positive (P,) int64, negative (Q,) int64) anchor indices, ascending.
    """
    labels_t = as_tensor(labels, torch.int64).reshape(-1)
    sampler = BalancedPositiveNegativeSampler(int(batch_size), float(positive_fraction))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        (pos_mask,), (neg_mask,) = sampler([labels_t])
    return (torch.where(pos_mask.bool())[0].numpy().astype(np.int64),
            torch.where(neg_mask.bool())[0].numpy().astype(np.int64))


def hard_negative_mining(losses: ArrayOrTensor, labels: ArrayOrTensor, ratio: int = 3) -> np.ndarray:
    """The background boxes SSD trains on: the ``ratio`` x #positives hardest negatives.

    losses (D,) float: per-box classification loss (higher = harder), e.g. cross-entropy of
    the background class. labels (D,) int: > 0 positive (class id or 1), 0 background, < 0
    ignored (never picked). As ``SSD.compute_loss``: negatives are ranked by descending
    loss with ``torch.sort`` (ties as torch orders them); no positives -> no negatives.
    Returns (Q,) int64 indices of the kept negatives, hardest first.
    """
    loss_t = as_tensor(losses, torch.float32).reshape(-1)
    labels_t = as_tensor(labels, torch.int64).reshape(-1)
    if loss_t.shape != labels_t.shape:
        raise ValueError(f"losses ({loss_t.shape[0]}) and labels ({labels_t.shape[0]}) must have the same length")
    num_negative = int(ratio) * int((labels_t > 0).sum())
    negative_loss = loss_t.clone()
    negative_loss[labels_t != 0] = -float("inf")  # torchvision masks positives the same way
    order = negative_loss.sort(descending=True)[1]
    order = order[: min(num_negative, int((labels_t == 0).sum()))]
    return order.numpy().astype(np.int64)
