"""Synthetic datasets the project generates itself (no download): see :mod:`detviewer.datasets.shapes`."""

from detviewer.datasets.shapes import SHAPE_CLASSES, ShapeScene, ShapesConfig, generate_scene, scenes_to_coco

__all__ = ["SHAPE_CLASSES", "ShapeScene", "ShapesConfig", "generate_scene", "scenes_to_coco"]
