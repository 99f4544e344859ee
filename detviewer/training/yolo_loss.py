"""The YOLOv1 loss (Redmon et al. 2016, eq. 3) for :class:`detviewer.detectors.yolo_v1.YoloV1`.

Each ground-truth object belongs to the grid cell holding its centre (one object per cell: when
two centres share a cell the larger object wins); of that cell's B predictors, the one whose
current box has the highest IoU with it is "responsible". Terms, summed over the batch and
divided by the batch size:

- coord:  lambda_coord * sum_resp [(x - x*)^2 + (y - y*)^2]      (x, y: offsets in the cell, 0..1)
- size:   lambda_coord * sum_resp [(sqrt w - sqrt w*)^2 + (sqrt h - sqrt h*)^2]  (w, h / image size)
- obj:    sum_resp (C - IoU(pred, gt))^2                       (IoU target, no gradient through it)
- noobj:  lambda_noobj * sum_not_resp C^2
- cls:    sum_cells_with_object sum_c (p(c) - p*(c))^2  ("mse", the paper) or cross-entropy ("ce")

With ``small_box_weight`` the coord and size terms of each responsible box are multiplied by
2 - w* h* (the object's width and height as fractions of the image; YOLOv3's weighting): a few
pixels of error ruin a small box's IoU but not a large one's, and the sqrt of the sizes alone does
not make up for it. The demo model trains with it (on its shapes, held-out AP50 0.806 -> 0.822).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from detviewer.detectors.yolo_v1 import decode_grid

__all__ = ["yolo_v1_loss", "assign_cells"]


def assign_cells(targets: list[dict], grid_size: int, input_size: tuple[int, int], num_classes: int):
    """Per-cell targets for a batch.

    targets: per image {"boxes" (M, 4) xyxy input pixels, "labels" (M,) in 1..C}.
    Returns obj (N, S, S) bool, box (N, S, S, 4) xyxy pixels, offset (N, S, S, 2) centre offset in
    the cell, sqrt_wh (N, S, S, 2) sqrt of size / input size, cls (N, S, S) int64 in 0..C-1.
    """
    n, s = len(targets), grid_size
    h, w = float(input_size[0]), float(input_size[1])
    obj = torch.zeros(n, s, s, dtype=torch.bool)
    box = torch.zeros(n, s, s, 4)
    offset = torch.zeros(n, s, s, 2)
    sqrt_wh = torch.zeros(n, s, s, 2)
    cls = torch.zeros(n, s, s, dtype=torch.long)
    for i, target in enumerate(targets):
        boxes = target["boxes"].float().reshape(-1, 4)
        labels = target["labels"].long().reshape(-1)
        if labels.numel() and (labels.min() < 1 or labels.max() > num_classes):
            raise ValueError(f"labels must be in 1..{num_classes}, got {labels.tolist()}")
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for j in torch.argsort(areas, stable=True).tolist():  # larger objects written last win the cell
            x0, y0, x1, y1 = boxes[j].tolist()
            gx, gy = (x0 + x1) / 2 / w * s, (y0 + y1) / 2 / h * s
            col, row = min(int(gx), s - 1), min(int(gy), s - 1)
            obj[i, row, col] = True
            box[i, row, col] = boxes[j]
            offset[i, row, col] = torch.tensor([gx - col, gy - row])
            sqrt_wh[i, row, col] = torch.tensor([max(x1 - x0, 0.0) / w, max(y1 - y0, 0.0) / h]).sqrt()
            cls[i, row, col] = labels[j] - 1
    return obj, box, offset, sqrt_wh, cls


def _paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[..., 4] with b[..., 4] element by element (xyxy)."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


def yolo_v1_loss(raw: torch.Tensor, targets: list[dict], input_size: int | tuple[int, int], boxes_per_cell: int = 2,
                 lambda_coord: float = 5.0, lambda_noobj: float = 0.5, class_loss: str = "mse",
                 small_box_weight: bool = False) -> dict[str, torch.Tensor]:
    """raw (N, S, S, 5B + C) head output; targets in input pixels (see assign_cells).

    Returns {"coord", "size", "obj", "noobj", "cls"}: scalar tensors, sums over the batch / N.
    """
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    n, s = raw.shape[0], raw.shape[1]
    b = boxes_per_cell
    num_classes = raw.shape[-1] - 5 * b
    obj, gt_box, gt_offset, gt_sqrt_wh, gt_cls = (t.to(raw.device) for t in
                                                   assign_cells(targets, s, input_size, num_classes))
    t = torch.sigmoid(raw[..., : 5 * b].reshape(n, s, s, b, 5))
    boxes, conf, _ = decode_grid(raw, b, input_size)
    iou = _paired_iou(boxes.detach(), gt_box[:, :, :, None, :].expand_as(boxes))
    best = iou.argmax(dim=-1)
    resp = F.one_hot(best, b).bool() & obj[..., None]
    r = resp.float()

    box_r = r  # the responsible boxes' weight in the coord and size terms
    if small_box_weight:  # 2 - w h, with sqrt_wh holding sqrt(w / W), sqrt(h / H)
        box_r = r * (2.0 - (gt_sqrt_wh[..., 0] * gt_sqrt_wh[..., 1]) ** 2)[..., None]
    coord = ((t[..., 0] - gt_offset[..., None, 0]) ** 2 + (t[..., 1] - gt_offset[..., None, 1]) ** 2) * box_r
    size = ((t[..., 2] - gt_sqrt_wh[..., None, 0]) ** 2 + (t[..., 3] - gt_sqrt_wh[..., None, 1]) ** 2) * box_r
    obj_term = (conf - iou.detach()) ** 2 * r
    noobj_term = conf ** 2 * (1 - r)
    logits = raw[..., 5 * b:]
    if class_loss == "mse":
        onehot = F.one_hot(gt_cls, num_classes).float()
        cls = ((torch.softmax(logits, dim=-1) - onehot) ** 2).sum(-1)[obj]
    elif class_loss == "ce":
        cls = F.cross_entropy(logits[obj], gt_cls[obj], reduction="none")
    else:
        raise ValueError(f"class_loss must be 'mse' or 'ce', got {class_loss!r}")
    return {
        "coord": lambda_coord * coord.sum() / n,
        "size": lambda_coord * size.sum() / n,
        "obj": obj_term.sum() / n,
        "noobj": lambda_noobj * noobj_term.sum() / n,
        "cls": cls.sum() / n,
    }
