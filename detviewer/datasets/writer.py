"""Write a shapes dataset to disk: ``OUT_DIR/shapes_<seed>_<index>.png`` + ``OUT_DIR/annotations.json`` (COCO).

Every file is written atomically (io.atomic): a failed write keeps what was there and says why in one sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import cv2

from detviewer.datasets.shapes import ShapesConfig, generate_scene, scenes_to_coco
from detviewer.errors import DetviewerError
from detviewer.io.atomic import write_bytes, write_text

__all__ = ["DatasetWriteError", "write_dataset"]


class DatasetWriteError(DetviewerError):
    """The output folder cannot hold the dataset."""


def write_dataset(out_dir: str | Path, count: int, seed: int, config: ShapesConfig = ShapesConfig(),
                  image_format: str = "png", progress: Callable[[int, int], None] | None = None) -> Path:
    """Generate scenes 0..count-1 of ``seed`` into ``out_dir``; returns the annotations file path.

    Images keep no metadata besides pixels, so the same arguments give byte-identical files.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetWriteError(f"{out_dir} exists and is not a folder.")
    if image_format not in ("png", "jpg"):
        raise DatasetWriteError(f"image format '{image_format}' is not supported; use png or jpg.")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetWriteError(f"cannot create {out_dir}: {exc.strerror}.") from None
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 6]
    scenes, names = [], []
    for index in range(count):
        scene = generate_scene(seed, index, config)
        name = f"shapes_{seed}_{index:05d}.{image_format}"
        ok, encoded = cv2.imencode(f".{image_format}", scene.image[:, :, ::-1], params)
        if not ok:
            raise DatasetWriteError(f"could not encode {out_dir / name} as {image_format}.")
        write_bytes(out_dir / name, encoded.tobytes())
        # keep only what the COCO file needs, not every image
        scenes.append(type(scene)(scene.image[:1, :1], scene.boxes, scene.labels, scene.visible))
        names.append(name)
        if progress is not None:
            progress(index + 1, count)
    coco = scenes_to_coco(scenes, names, info={"description": "detviewer synthetic shapes", "seed": seed,
                                               "count": count, "size": config.size, "generator": "detviewer.datasets.shapes"})
    for image in coco["images"]:
        image["width"] = image["height"] = config.size
    path = out_dir / "annotations.json"
    write_text(path, json.dumps(coco, indent=1) + "\n")
    return path
