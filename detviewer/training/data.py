"""Shapes scenes as torch tensors: an endless training stream and fixed evaluation splits.

A batch is a list of images (3, H, W) float32 in 0..1 and a list of targets
``{"boxes": (N, 4) float32 xyxy pixels, "labels": (N,) int64 in 1..C}`` (torchvision's format).
"""

from __future__ import annotations

import numpy as np
import torch

from detviewer.datasets.shapes import ShapeScene, ShapesConfig, generate_scene

__all__ = ["scene_to_tensors", "training_batch", "fixed_split"]


def scene_to_tensors(scene: ShapeScene) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """ShapeScene -> (image (3, H, W) float32 0..1, target dict)."""
    image = torch.from_numpy(np.ascontiguousarray(scene.image)).permute(2, 0, 1).float().div_(255.0)
    target = {"boxes": torch.from_numpy(scene.boxes.copy()), "labels": torch.from_numpy(scene.labels.copy())}
    return image, target


def training_batch(seed: int, iteration: int, batch_size: int, config: ShapesConfig):
    """Batch ``iteration`` of the endless training stream of ``seed``: scenes
    ``iteration * batch_size ... + batch_size - 1`` (so a run is reproducible and resumable)."""
    start = iteration * batch_size
    pairs = [scene_to_tensors(generate_scene(seed, start + k, config)) for k in range(batch_size)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def fixed_split(seed: int, count: int, config: ShapesConfig) -> list[ShapeScene]:
    """Scenes 0..count-1 of ``seed`` (validation / held-out test splits)."""
    return [generate_scene(seed, i, config) for i in range(count)]
