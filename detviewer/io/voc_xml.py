"""Pascal VOC XML datasets: one annotation file per image.

Layouts: the VOC devkit's ``Annotations/`` + ``JPEGImages/`` (+ ``ImageSets/Main/val.txt`` or
``test.txt``, which then chooses the images), or a folder of images with an ``.xml`` beside each.
An annotation matches its image by relative path (``Annotations/a/b.xml`` -> ``JPEGImages/a/b.*``,
or the image beside it with the same stem); failing that, by the base name in its ``<filename>``, unless
that image already has its annotation (an image is counted once; the ImageSets list likewise).

Boxes: VOC's 1-based inclusive pixel corners become COCO ``xywh`` as Ultralytics converts them
(x = xmin - 1, w = xmax - xmin). ``difficult`` objects are treated as COCO treats crowd regions: not
objects to find, and detections on them are ignored (the VOC devkit ignores them too). Class names:
``classes.txt`` / ``labels.txt`` in the dataset folder if present, else every name found, sorted;
category ids are 1..K. A malformed file gets one sentence naming it and what is wrong; its image is
left out. Parsing uses ``xml.etree`` (expat refuses entity expansion bombs; no external entities).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detviewer.errors import AnnotationError
from detviewer.io.dataset_types import Dataset, dataset_from_boxes
from detviewer.io.images import IMAGE_EXTENSIONS, list_images
from detviewer.io.limits import MAX_TEXT_BYTES, check_class_count, read_regular

__all__ = ["VocObject", "read_voc_xml", "open_voc", "looks_like_voc"]


@dataclass(frozen=True)
class VocObject:
    """name; xmin, ymin, xmax, ymax in VOC's 1-based pixels; difficult."""

    name: str
    box: tuple[float, float, float, float]
    difficult: bool


def read_voc_xml(path: Path) -> tuple[str, list[VocObject]]:
    """(<filename>, objects) of one VOC annotation; AnnotationError (one sentence) when malformed."""
    data = read_regular(path, MAX_TEXT_BYTES, "VOC annotation")
    try:
        root = ET.fromstring(data)  # bytes: expat reads the XML declaration's encoding and skips a BOM
    except ET.ParseError as exc:
        line, col = exc.position
        raise AnnotationError(f"{path} is not valid XML (line {line}, column {col}).") from None
    if root.tag != "annotation":
        raise AnnotationError(f"{path} is not a VOC annotation: its root element is <{root.tag}>, not <annotation>.")
    objects = []
    for i, node in enumerate(root.iter("object"), 1):
        name = (node.findtext("name") or "").strip()
        if not name:
            raise AnnotationError(f"{path}: object {i} has no <name>.")
        box = node.find("bndbox")
        if box is None:
            raise AnnotationError(f"{path}: object {i} ({name}) has no <bndbox>.")
        try:
            coords = tuple(float((box.findtext(k) or "").strip()) for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError:
            raise AnnotationError(f"{path}: object {i} ({name}) has a <bndbox> whose xmin, ymin, xmax, ymax "
                                  f"are not all numbers.") from None
        if not all(np.isfinite(coords)) or coords[2] < coords[0] or coords[3] < coords[1]:
            raise AnnotationError(f"{path}: object {i} ({name}) has xmax < xmin or ymax < ymin.")
        difficult = (node.findtext("difficult") or "0").strip()
        objects.append(VocObject(name, coords, difficult not in ("0", "", "false", "False")))
    return (root.findtext("filename") or "").strip(), objects


def looks_like_voc(folder: Path) -> bool:
    return (folder / "Annotations").is_dir() or any(folder.glob("*.xml"))


def _class_list(folder: Path) -> list[str] | None:
    for name in ("classes.txt", "labels.txt"):
        if (folder / name).is_file():
            text = read_regular(folder / name, MAX_TEXT_BYTES, "class list").decode("utf-8-sig", errors="replace")
            return [ln.strip() for ln in text.splitlines() if ln.strip()]
    return None


def _pairs(folder: Path) -> tuple[list[tuple[Path, Path | None]], Path]:
    """(xml, image or None) pairs, and the folder holding the images (for the base-name fallback)."""
    if (folder / "Annotations").is_dir():
        ann_dir = folder / "Annotations"
        image_dir = folder / "JPEGImages" if (folder / "JPEGImages").is_dir() else folder
        chosen = None
        for split in ("val.txt", "test.txt"):
            listing = folder / "ImageSets" / "Main" / split
            if listing.is_file():
                text = read_regular(listing, MAX_TEXT_BYTES, "image set").decode("utf-8-sig", errors="replace")
                chosen = list(dict.fromkeys(ln.split()[0] for ln in text.splitlines() if ln.strip()))  # once each
                break
        xmls = [ann_dir / f"{stem}.xml" for stem in chosen] if chosen is not None \
            else sorted(ann_dir.rglob("*.xml"))
        return [(x, _image_for(image_dir / x.relative_to(ann_dir).with_suffix(""))) for x in xmls], image_dir
    xmls = sorted(folder.rglob("*.xml"))
    return [(x, _image_for(x.with_suffix(""))) for x in xmls], folder


def _image_for(stem_path: Path) -> Path | None:
    for suffix in sorted(IMAGE_EXTENSIONS):
        for candidate in (stem_path.with_name(stem_path.name + suffix),
                          stem_path.with_name(stem_path.name + suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def open_voc(folder: str | os.PathLike) -> Dataset:
    """Open a VOC-style folder (see the module docstring)."""
    folder = Path(folder)
    pairs, image_dir = _pairs(folder)
    if not pairs:
        raise AnnotationError(f"{folder} holds no VOC .xml annotation files.")
    by_name: dict[str, list[Path]] | None = None
    parsed, warnings = [], []
    # an image is counted once: those found by path are taken first, a <filename> fallback may not take them again
    claimed = {image.resolve(): xml for xml, image in pairs if image is not None}
    for xml_path, image in pairs:
        if not xml_path.exists():  # anything else there (a pipe, a folder) is named by read_voc_xml
            warnings.append(f"{xml_path} is listed in ImageSets but does not exist; left out.")
            continue
        try:
            filename, objects = read_voc_xml(xml_path)
        except AnnotationError as exc:
            warnings.append(f"{exc} Its image is left out.")
            continue
        if image is None and filename:  # the stated fallback: the base name in <filename>
            if by_name is None:
                by_name = {}
                for p in list_images(image_dir, recursive=True):
                    by_name.setdefault(p.name, []).append(p)
            hits = by_name.get(Path(filename).name, [])
            image = hits[0] if len(hits) == 1 else None
            owner = claimed.get(image.resolve()) if image is not None else None
            if owner is not None:
                warnings.append(f"{xml_path}: its <filename> {filename} is the image of {owner}; left out (an "
                                f"image is counted once).")
                continue
            if image is not None:
                claimed[image.resolve()] = xml_path
        if image is None:
            warnings.append(f"{xml_path}: no image found for it (by path, or by its <filename> "
                            f"{filename or '(none)'}); left out.")
            continue
        parsed.append((image, objects))
    names = _class_list(folder) or sorted({o.name for _, objs in parsed for o in objs})
    check_class_count(len(names), folder)
    index = {n: i for i, n in enumerate(names)}
    root = folder.resolve()
    rel_paths, per_image = [], []
    for image, objects in parsed:
        unknown = sorted({o.name for o in objects if o.name not in index})
        if unknown:
            warnings.append(f"{image}: class {unknown[0]!r} is not in the class list; its image is left out.")
            continue
        xyxy = np.array([o.box for o in objects], np.float64).reshape(-1, 4)
        xywh = np.c_[xyxy[:, :2] - 1, xyxy[:, 2:] - xyxy[:, :2]]
        rel_paths.append(image.resolve().relative_to(root).as_posix() if image.resolve().is_relative_to(root)
                         else image.resolve().as_posix())
        per_image.append((xywh, [index[o.name] for o in objects], [o.difficult for o in objects]))
    if not rel_paths:
        raise AnnotationError(f"{folder}: no annotation could be loaded" + (f" ({warnings[0]})" if warnings else "."))
    return dataset_from_boxes(root, rel_paths, names, per_image, "voc", folder, warnings)
