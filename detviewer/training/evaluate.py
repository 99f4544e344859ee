"""COCO-style evaluation (pycocotools) of a demo model on generated scenes."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import numpy as np
import torch

from detviewer.datasets.shapes import ShapeScene, scenes_to_coco
from detviewer.training.data import scene_to_tensors

__all__ = ["STAT_NAMES", "coco_stats", "evaluate_predictor"]

#: Names of the first six COCOeval.stats entries, in order.
STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")

#: images (list of (3, H, W) float 0..1) -> per image {"boxes" (N,4) xyxy px, "scores" (N,), "labels" (N,)}
Predictor = Callable[[list[torch.Tensor]], list[dict[str, torch.Tensor]]]


def coco_stats(gt: dict, detections: list[dict]) -> dict[str, float]:
    """Run pycocotools' COCOeval (bbox) quietly; returns STAT_NAMES -> value (-1 where undefined).

    gt: a COCO dict; detections: COCO result dicts ``{"image_id", "category_id", "bbox" xywh, "score"}``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if not detections:
            return {name: 0.0 for name in STAT_NAMES}
        coco_dt = coco_gt.loadRes(detections)
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats[:6])}


@torch.inference_mode()
def evaluate_predictor(predict: Predictor, scenes: list[ShapeScene], batch_size: int = 16) -> dict[str, float]:
    """COCO stats of ``predict`` on ``scenes`` (image ids 1..N in order)."""
    gt = scenes_to_coco(scenes, [f"{i:05d}.png" for i in range(len(scenes))])
    results = []
    for start in range(0, len(scenes), batch_size):
        images = [scene_to_tensors(s)[0] for s in scenes[start:start + batch_size]]
        for offset, out in enumerate(predict(images)):
            boxes = out["boxes"].detach().cpu().numpy().astype(np.float64)
            for box, score, label in zip(boxes, out["scores"].tolist(), out["labels"].tolist()):
                x0, y0, x1, y1 = box
                results.append({"image_id": start + offset + 1, "category_id": int(label),
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})
    return coco_stats(gt, results)
