"""A dataset as detviewer holds it: image files + their ground truth, whatever format it came in.

Every reader (COCO JSON, YOLO txt, Pascal VOC XML) builds one :class:`Dataset`. Its ground truth is
a :class:`~detviewer.io.annotations.CocoGroundTruth` (image ids, file names relative to ``root``,
category ids and names, flat boxes), so results files, ``detect --gt`` and the evaluation treat every
format alike. Problems with single files are collected as one-sentence ``warnings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.io.annotations import CocoGroundTruth

__all__ = ["Dataset", "dataset_from_boxes", "image_size", "MAX_WARNINGS"]

#: Warnings kept in full; the rest are counted in one last line.
MAX_WARNINGS = 50


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and ground truth of one dataset.

    gt: image ids (ascending), file names relative to ``root`` (posix), categories and boxes
    (COCO ``xywh`` pixels); image_paths (I,) absolute paths aligned with ``gt.image_ids``;
    format: "coco", "yolo" or "voc"; source: the path it was opened from; warnings: one sentence
    per malformed file (that file's image left out) or other problem.
    """

    gt: CocoGroundTruth
    root: Path
    image_paths: tuple[Path, ...]
    format: str
    source: Path
    warnings: tuple[str, ...] = ()
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_images(self) -> int:
        return self.gt.num_images

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.gt.category_names

    @property
    def boxes(self) -> GroundTruthBoxes:
        return self.gt.boxes

    def image_index(self, path: str | os.PathLike) -> int | None:
        """Index of an image file in this dataset (by resolved path), or None."""
        if not self._index:
            self._index.update({p.resolve(): i for i, p in enumerate(self.image_paths)})
        return self._index.get(Path(path).resolve())

    def summary(self) -> str:
        """"120 images, 3 classes, 842 objects (YOLO txt, data.yaml)"."""
        kind = {"coco": "COCO JSON", "yolo": "YOLO txt", "voc": "Pascal VOC XML"}.get(self.format, self.format)
        objects = int((~self.boxes.crowd).sum())
        return (f"{self.num_images} images, {len(self.class_names)} classes, {objects} objects "
                f"({kind}, {self.source.name})")


def dataset_from_boxes(root: Path, rel_paths: list[str], class_names: list[str], per_image: list[tuple],
                       fmt: str, source: Path, warnings: list[str], image_ids: list[int] | None = None,
                       category_ids: list[int] | None = None) -> Dataset:
    """Build a Dataset from per-image boxes.

    rel_paths (I,) posix paths relative to ``root`` in image order; per_image[i] = (xywh (n, 4), class
    indices (n,), crowd (n,) bool) of image i; image_ids default to 1..I, category_ids to 1..K.
    """
    counts = [len(b[0]) for b in per_image]
    image_index = np.repeat(np.arange(len(per_image)), counts)
    xywh = np.concatenate([np.asarray(b[0], np.float64).reshape(-1, 4) for b in per_image]) if per_image \
        else np.zeros((0, 4))
    classes = np.concatenate([np.asarray(b[1], np.int64).reshape(-1) for b in per_image]) if per_image \
        else np.zeros(0, np.int64)
    crowd = np.concatenate([np.asarray(b[2], bool).reshape(-1) for b in per_image]) if per_image \
        else np.zeros(0, bool)
    ids = np.asarray(image_ids if image_ids is not None else range(1, len(rel_paths) + 1), np.int64)
    order = np.argsort(ids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    boxes = GroundTruthBoxes(image_index=rank[image_index], category_index=classes, xywh=xywh,
                             area=xywh[:, 2] * xywh[:, 3], crowd=crowd, difficult=crowd,
                             ids=np.arange(1, len(xywh) + 1))
    cats = np.asarray(category_ids if category_ids is not None else range(1, len(class_names) + 1), np.int64)
    gt = CocoGroundTruth(image_ids=ids[order], file_names=tuple(rel_paths[i] for i in order), category_ids=cats,
                         category_names=tuple(class_names), boxes=boxes, source=str(source), path=None)
    paths = tuple((root / rel_paths[i]) for i in order)
    return Dataset(gt=gt, root=root, image_paths=paths, format=fmt, source=source,
                   warnings=tuple(_capped(warnings)))


def _capped(warnings: list[str]) -> list[str]:
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    return warnings[:MAX_WARNINGS] + [f"... and {len(warnings) - MAX_WARNINGS} more files with problems."]


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image as detviewer shows it (EXIF rotation applied), read from its header;
    None when the file cannot be read as an image (or is not a regular file)."""
    from PIL import Image, UnidentifiedImageError

    from detviewer.io.limits import is_regular_file

    if not is_regular_file(path):  # a pipe or a device would never end
        return None
    try:
        with Image.open(path) as image:
            w, h = image.size
            try:
                # Pillow decodes a whole PNG to look for an eXIf chunk after its pixels: walk the chunks instead
                no_exif = image.format == "PNG" and "exif" not in image.info and not _png_has_exif(path)
                orientation = 1 if no_exif else image.getexif().get(0x0112, 1)
            except Exception:  # a broken EXIF block: Pillow shows the image unrotated
                orientation = 1
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _png_has_exif(path: Path) -> bool:
    """Whether a PNG file has an eXIf chunk anywhere (chunk headers only, no pixel is decoded);
    True when the chunks cannot be walked, so that the caller asks Pillow."""
    with open(path, "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return True
        while len(header := fh.read(8)) == 8:
            kind = header[4:]
            if kind == b"eXIf":
                return True
            if kind == b"IEND":
                return False
            fh.seek(int.from_bytes(header[:4], "big") + 4, 1)  # data and CRC
    return True
