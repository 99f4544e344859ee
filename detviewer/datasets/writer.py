"""Write a shapes dataset to disk in one of three layouts (``LAYOUTS``):

- ``coco``: ``OUT/shapes_<seed>_<index>.png`` + ``OUT/annotations.json``;
- ``yolo`` (Ultralytics): ``OUT/images/*.png``, ``OUT/labels/*.txt`` (``class cx cy w h``, normalised, class
  index = label - 1) and ``OUT/data.yaml`` (``train`` and ``val`` both ``images``; ``names`` in label order);
- ``voc`` (Pascal VOC devkit): ``OUT/JPEGImages/*.png``, ``OUT/Annotations/*.xml`` (VOC's 1-based corners,
  ``xmin = x1 + 1``, ``xmax = x2 + 1``, which ``io.voc_xml`` maps back exactly as Ultralytics converts VOC:
  ``x = xmin - 1``, ``w = xmax - xmin``; 3 decimals). No classes.txt: VOC readers then
  number the classes alphabetically, as for a real VOC folder.

Every file goes through ``io.atomic``; images keep no metadata besides pixels, so the same arguments give
byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np

from detviewer.datasets.shapes import SHAPE_CLASSES, ShapeScene, ShapesConfig, generate_scene, scenes_to_coco
from detviewer.errors import DetviewerError
from detviewer.io.atomic import OutputError, write_bytes, write_text

__all__ = ["DatasetWriteError", "LAYOUTS", "write_dataset"]

#: Annotation layouts ``write_dataset`` writes.
LAYOUTS = ("coco", "yolo", "voc")
_IMAGE_FOLDER = {"coco": "", "yolo": "images", "voc": "JPEGImages"}


class DatasetWriteError(DetviewerError):
    """The output folder cannot hold the dataset."""


def write_dataset(out_dir: str | Path, count: int, seed: int, config: ShapesConfig = ShapesConfig(),
                  image_format: str = "png", progress: Callable[[int, int], None] | None = None,
                  layout: str = "coco") -> Path:
    """Generate scenes 0..count-1 of ``seed`` into ``out_dir`` in ``layout``; returns the file a dataset
    reader opens (annotations.json, data.yaml, or the VOC folder itself)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetWriteError(f"{out_dir} exists and is not a folder.")
    if image_format not in ("png", "jpg"):
        raise DatasetWriteError(f"image format '{image_format}' is not supported; use png or jpg.")
    if layout not in LAYOUTS:
        raise DatasetWriteError(f"dataset format '{layout}' is not supported; use one of {', '.join(LAYOUTS)}.")
    image_dir = out_dir / _IMAGE_FOLDER[layout]
    try:
        image_dir.mkdir(parents=True, exist_ok=True)
        for sub in {"yolo": ["labels"], "voc": ["Annotations"]}.get(layout, []):
            (out_dir / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise DatasetWriteError(f"cannot create {out_dir}: {exc.strerror}.") from None
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 6]
    scenes, names = [], []
    try:
        for index in range(count):
            scene = generate_scene(seed, index, config)
            name = f"shapes_{seed}_{index:05d}.{image_format}"
            ok, encoded = cv2.imencode(f".{image_format}", scene.image[:, :, ::-1], params)
            if not ok:
                raise DatasetWriteError(f"could not encode {image_dir / name} as {image_format}.")
            write_bytes(image_dir / name, encoded.tobytes())
            if layout == "yolo":
                write_text(out_dir / "labels" / f"{Path(name).stem}.txt", _yolo_lines(scene))
            elif layout == "voc":
                write_text(out_dir / "Annotations" / f"{Path(name).stem}.xml", _voc_xml(scene, name))
            # keep only what the annotation file needs, not every image
            scenes.append(type(scene)(scene.image[:1, :1], scene.boxes, scene.labels, scene.visible))
            names.append(name)
            if progress is not None:
                progress(index + 1, count)
        if layout == "yolo":
            return write_text(out_dir / "data.yaml", _data_yaml(seed, count))
        if layout == "voc":
            return out_dir
        coco = scenes_to_coco(scenes, names, info={"description": "detviewer synthetic shapes", "seed": seed,
                                                   "count": count, "size": config.size,
                                                   "generator": "detviewer.datasets.shapes"})
        for image in coco["images"]:
            image["width"] = image["height"] = config.size
        return write_text(out_dir / "annotations.json", json.dumps(coco, indent=1) + "\n")
    except OutputError as exc:
        raise DatasetWriteError(str(exc)) from None


def _yolo_lines(scene: ShapeScene) -> str:
    """One ``class cx cy w h`` line per object, normalised to the image size."""
    h, w = scene.image.shape[:2]
    scale = np.array([w, h, w, h], np.float64)
    lines = []
    for box, label in zip(scene.boxes.astype(np.float64), scene.labels):
        x0, y0, x1, y1 = box / scale
        lines.append(f"{int(label) - 1} {(x0 + x1) / 2:.6f} {(y0 + y1) / 2:.6f} {x1 - x0:.6f} {y1 - y0:.6f}")
    return "".join(line + "\n" for line in lines)


def _data_yaml(seed: int, count: int) -> str:
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(SHAPE_CLASSES))
    return (f"# detviewer synthetic shapes, seed {seed}, {count} images (detviewer make-shapes --format yolo)\n"
            f"train: images\nval: images\nnames:\n{names}")


def _voc_xml(scene: ShapeScene, file_name: str) -> str:
    h, w = scene.image.shape[:2]
    objects = []
    for box, label in zip(scene.boxes.astype(np.float64), scene.labels):
        x0, y0, x1, y1 = (round(float(v), 3) for v in box)
        objects.append(
            f"  <object>\n    <name>{escape(SHAPE_CLASSES[int(label) - 1])}</name>\n    <difficult>0</difficult>\n"
            f"    <bndbox><xmin>{x0 + 1:.3f}</xmin><ymin>{y0 + 1:.3f}</ymin><xmax>{x1 + 1:.3f}</xmax><ymax>{y1 + 1:.3f}</ymax>"
            f"</bndbox>\n  </object>\n")
    return (f"<annotation>\n  <filename>{escape(file_name)}</filename>\n"
            f"  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>\n{''.join(objects)}</annotation>\n")
