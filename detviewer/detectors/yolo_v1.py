"""A small YOLOv1-style detector: S x S grid, B boxes per cell, C classes, output S x S x (5B + C).

Output layout per cell (the head's raw tensor): for each box b, ``(tx, ty, tw, th, tc)`` at
``5b .. 5b + 4``, then ``C`` class logits. Decoding (YOLOv1's parametrisation, with sigmoids
to keep every quantity in its range):

- centre ``x = (col + sigmoid(tx)) / S * W``, ``y = (row + sigmoid(ty)) / S * H`` (offset in the cell)
- size ``w = sigmoid(tw)**2 * W``, ``h = sigmoid(th)**2 * H`` (the net predicts sqrt(w / W))
- confidence ``sigmoid(tc)`` (trained towards the IoU with the object, as in the paper)
- class probabilities ``softmax(logits)`` per cell (one class distribution per cell)

As in the paper, each box has one class-specific score per class, its confidence times that class's
probability in its cell; every (box, class) pair above the score threshold is an NMS candidate, and
torchvision's ``batched_nms`` (per class) gives the detections. (Taking only each cell's best class
instead loses the right class whenever the cell is unsure: held-out AP50 0.837 instead of 0.855.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

from detviewer.core.types import Detections, GridPrediction, Inference, NMSParams
from detviewer.detectors.base import Detector
from detviewer.errors import DetectorError

__all__ = ["YoloV1", "decode_grid", "select_candidates", "predict_batch", "YoloV1Detector"]

_MEAN = (0.50, 0.52, 0.51)
_STD = (0.24, 0.25, 0.26)


def _conv(cin: int, cout: int, stride: int = 1, k: int = 3, dilation: int = 1, leaky: bool = True) -> nn.Sequential:
    pad = dilation * (k // 2)
    act = nn.LeakyReLU(0.1, inplace=True) if leaky else nn.ReLU(inplace=True)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), act)


class YoloV1(nn.Module):
    """Conv backbone (stride 32) + a 1x1 head to ``(N, S, S, 5B + C)``.

    Input (N, 3, input_size, input_size) float 0..1 (use :meth:`prepare`); input_size = 32 * S.
    Passthroughs fold the stride-8 and stride-16 maps into the S x S map (space-to-depth, as in
    YOLOv2) so that small objects are located from fine features; a dilated conv then widens the
    context each cell sees (large objects span several cells).

    ``to_stride8`` + ``to_stride16`` have the layout of demo-frcnn's backbone body (same widths,
    ReLU), so training can start from that model's weights, as YOLOv1 started from a pretrained
    backbone (see ``detviewer.training.transfer``).
    """

    def __init__(self, num_classes: int = 6, grid_size: int = 7, boxes_per_cell: int = 2,
                 input_size: int = 224) -> None:
        super().__init__()
        if input_size != 32 * grid_size:
            raise ValueError(f"input_size must be 32 * grid_size = {32 * grid_size}, got {input_size}")
        self.num_classes, self.grid_size, self.boxes_per_cell = num_classes, grid_size, boxes_per_cell
        self.input_size = input_size
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        relu = {"leaky": False}
        self.to_stride8 = nn.Sequential(_conv(3, 24, 2, **relu), _conv(24, 48, 2, **relu), _conv(48, 48, **relu),
                                        _conv(48, 96, 2, **relu), _conv(96, 96, **relu))
        self.to_stride16 = nn.Sequential(_conv(96, 160, 2, **relu), _conv(160, 160, **relu))
        self.to_stride32 = nn.Sequential(_conv(160, 256, 2), _conv(256, 256))
        self.pass8 = _conv(96, 16, k=1)     # 16 ch x (4 x 4) -> 256 ch at stride 32
        self.pass16 = _conv(160, 32, k=1)   # 32 ch x (2 x 2) -> 128 ch at stride 32
        self.fuse = nn.Sequential(_conv(256 + 256 + 128, 256, k=1), _conv(256, 256, dilation=2), _conv(256, 256))
        self.head = nn.Conv2d(256, 5 * boxes_per_cell + num_classes, 1)
        self.backbone_frozen = False

    def freeze_backbone(self) -> None:
        """Keep ``to_stride8`` / ``to_stride16`` fixed while training (no gradients, BN in eval mode)."""
        self.backbone_frozen = True
        for p in list(self.to_stride8.parameters()) + list(self.to_stride16.parameters()):
            p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> YoloV1:
        super().train(mode)
        if self.backbone_frozen:
            self.to_stride8.eval()
            self.to_stride16.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 3, input_size, input_size) float 0..1 -> raw (N, S, S, 5B + C)."""
        x = (x - self.mean) / self.std
        c8 = self.to_stride8(x)
        c16 = self.to_stride16(c8)
        c32 = self.to_stride32(c16)
        fine = [F.pixel_unshuffle(self.pass8(c8), 4), F.pixel_unshuffle(self.pass16(c16), 2)]
        out = self.head(self.fuse(torch.cat([c32] + fine, dim=1)))
        return out.permute(0, 2, 3, 1).contiguous()

    def prepare(self, images: list[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Resize images (3, H, W) float 0..1 to the input size.

        Returns the batch (N, 3, S*32, S*32) and per image scale (sy, sx) = input / original.
        """
        size = self.input_size
        batch = torch.stack([F.interpolate(im[None], size=(size, size), mode="bilinear", align_corners=False,
                                           antialias=True)[0] if im.shape[-2:] != (size, size) else im
                             for im in images])
        scales = [(size / im.shape[-2], size / im.shape[-1]) for im in images]
        return batch, scales


def decode_grid(raw: torch.Tensor, boxes_per_cell: int, input_size: tuple[int, int]):
    """Decode the head's output.

    raw (..., S, S, 5B + C); input_size (H, W) of the model input.
    Returns boxes (..., S, S, B, 4) xyxy input pixels (clipped to the input), confidence
    (..., S, S, B) and class_probs (..., S, S, C).
    """
    s = raw.shape[-2]
    b = boxes_per_cell
    h, w = float(input_size[0]), float(input_size[1])
    box_part = raw[..., : 5 * b].reshape(*raw.shape[:-1], b, 5)
    t = torch.sigmoid(box_part)
    cols = torch.arange(s, dtype=raw.dtype, device=raw.device).view(1, s, 1)
    rows = torch.arange(s, dtype=raw.dtype, device=raw.device).view(s, 1, 1)
    cx = (cols + t[..., 0]) / s * w
    cy = (rows + t[..., 1]) / s * h
    bw = t[..., 2] ** 2 * w
    bh = t[..., 3] ** 2 * h
    boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=-1)
    boxes = torch.stack([boxes[..., 0].clamp(0, w), boxes[..., 1].clamp(0, h),
                         boxes[..., 2].clamp(0, w), boxes[..., 3].clamp(0, h)], dim=-1)
    class_probs = torch.softmax(raw[..., 5 * b:], dim=-1)
    return boxes, t[..., 4], class_probs


def select_candidates(boxes: torch.Tensor, confidence: torch.Tensor, class_probs: torch.Tensor,
                      score_threshold: float):
    """One image's boxes (S, S, B, 4), confidence (S, S, B), class_probs (S, S, C) -> candidates.

    YOLOv1's class-specific confidence: box b of a cell scores confidence_b x P(class c | cell) for
    every class c (labels 1..C, 0 is background). Returns (boxes (K, 4), scores (K,), labels (K,)
    int64) of the (box, class) pairs with score > ``score_threshold``, in cell order (row, col, box,
    class); a box may appear once per class.
    """
    num_classes = class_probs.shape[-1]
    scores = (confidence[..., :, None] * class_probs[..., None, :]).reshape(-1)  # (S, S, B, C) flattened
    labels = torch.arange(1, num_classes + 1, device=scores.device).repeat(confidence.numel())
    flat = boxes.reshape(-1, 4).repeat_interleave(num_classes, dim=0)
    widths, heights = flat[:, 2] - flat[:, 0], flat[:, 3] - flat[:, 1]
    keep = (scores > score_threshold) & (widths > 0) & (heights > 0)
    return flat[keep], scores[keep], labels[keep].long()


def _nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, nms: NMSParams) -> torch.Tensor:
    if nms.class_agnostic:
        labels = torch.zeros_like(labels)
    keep = batched_nms(boxes, scores, labels, nms.iou_threshold)
    return keep if nms.max_detections is None else keep[: nms.max_detections]


DEFAULT_NMS = NMSParams(iou_threshold=0.5, score_threshold=0.05, class_agnostic=False, max_detections=100)


@torch.inference_mode()
def predict_batch(model: YoloV1, images: list[torch.Tensor], nms: NMSParams = DEFAULT_NMS) -> list[dict]:
    """torchvision-style predictions for images (3, H, W) float 0..1: boxes in each image's pixels."""
    batch, scales = model.prepare(images)
    raw = model(batch)
    size = (model.input_size, model.input_size)
    boxes, conf, probs = decode_grid(raw, model.boxes_per_cell, size)
    results = []
    for i, (sy, sx) in enumerate(scales):
        cand_boxes, scores, labels = select_candidates(boxes[i], conf[i], probs[i], nms.score_threshold)
        cand_boxes = cand_boxes / torch.tensor([sx, sy, sx, sy])
        keep = _nms(cand_boxes, scores, labels, nms)
        results.append({"boxes": cand_boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return results


class YoloV1Detector(Detector):
    """Detector adapter for :class:`YoloV1`: final detections, NMS candidates and the grid view."""


    def __init__(self, model: YoloV1, name: str = "demo-yolo", class_names: Sequence[str] = (), device: str = "cpu",
                 nms: NMSParams = DEFAULT_NMS) -> None:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise DetectorError(f"{name} cannot run on {device}: no CUDA device is available.")
        self.model = model.eval().to(device)
        self.name, self.class_names, self.device, self.nms = name, tuple(class_names), device, nms

    @torch.inference_mode()
    def infer(self, image_rgb: np.ndarray) -> Inference:
        """image_rgb (H, W, 3) uint8 -> Inference; boxes in original-image pixels."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DetectorError(f"{self.name} needs an RGB image of shape (H, W, 3), got {image_rgb.shape}.")
        t0 = time.perf_counter()
        h, w = image_rgb.shape[:2]
        image = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(self.device).permute(2, 0, 1).float() / 255.0
        batch, ((sy, sx),) = self.model.prepare([image])
        t1 = time.perf_counter()
        raw = self.model(batch)[0]
        if self.device != "cpu":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        size = (self.model.input_size, self.model.input_size)
        boxes, conf, probs = decode_grid(raw, self.model.boxes_per_cell, size)
        to_original = torch.tensor([sx, sy, sx, sy], device=boxes.device)
        boxes = boxes / to_original
        cand_boxes, scores, labels = select_candidates(boxes, conf, probs, self.nms.score_threshold)
        # NMS on exactly the float32 arrays stored as candidates, so a replay reproduces it
        cand_boxes, scores = cand_boxes.float().cpu(), scores.float().cpu()
        labels = labels.cpu()
        keep = _nms(cand_boxes, scores, labels, self.nms)
        t3 = time.perf_counter()
        candidates = Detections(cand_boxes.numpy(), scores.numpy(), labels.numpy(), self.class_names)
        s = self.model.grid_size
        grid = GridPrediction(boxes=boxes.cpu().numpy(), confidence=conf.cpu().numpy(),
                              class_probs=probs.cpu().numpy(), raw=raw.cpu().numpy(),
                              cell_size=(h / s, w / s))
        return Inference(
            model_name=self.name, image_size=(h, w), detections=candidates[keep.numpy()],
            candidates=candidates, nms=self.nms, grid=grid,
            timings={"preprocess": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3},
            device=self.device, input_size=size, scale=(float(sy), float(sx)),
        )

    def close(self) -> None:
        self.model = None
