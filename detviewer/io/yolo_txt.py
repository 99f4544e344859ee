"""YOLO txt datasets (Ultralytics layout): ``images/`` beside ``labels/``, names from data.yaml or classes.txt.

One label file per image, found as Ultralytics finds it (``img2label_paths``: the last ``/images/``
of the image path becomes ``/labels/``, the suffix ``.txt``); each line ``class cx cy w h`` with
coordinates normalised to [0, 1] (a line with more than five values is a polygon: its bounding box
counts, as in Ultralytics). An image without a label file has no objects. A malformed label file
(wrong column count, a non-number, a class out of range, coordinates outside [0, 1]) gets one
sentence naming it, its line and what is wrong, and its image is left out (Ultralytics also drops
such an image); an image whose header cannot be read likewise.

``data.yaml``: ``path`` (the root; relative to the yaml's folder), ``val`` (else ``test``, else
``train``): a folder, a .txt list of image paths, or a list of either; ``names``: a list or a
{index: name} mapping. Category ids are class index + 1, as Ultralytics writes them to JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detviewer.errors import AnnotationError
from detviewer.io.dataset_types import Dataset, dataset_from_boxes, image_size
from detviewer.io.images import is_image_path, list_images
from detviewer.io.limits import MAX_TEXT_BYTES, check_class_count, decode_text, read_regular

__all__ = ["open_yolo_yaml", "open_yolo_folder", "label_path", "read_label_file", "looks_like_yolo", "SPLITS"]

#: Splits tried in a data.yaml, in order: the evaluation split first.
SPLITS = ("val", "test", "train")


def label_path(image: Path) -> Path:
    """Ultralytics' label file for an image: the last /images/ becomes /labels/, suffix .txt."""
    text = str(image)
    marker, repl = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if marker in text:
        head, tail = text.rsplit(marker, 1)
        text = head + repl + tail
    return Path(text).with_suffix(".txt")


def read_label_file(path: Path, num_classes: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """xywh (n, 4) float64 pixels and class indices (n,) of one label file; AnnotationError (one
    sentence) when it is malformed. size: (width, height) of the image in pixels."""
    text = decode_text(read_regular(path, MAX_TEXT_BYTES, "YOLO label file"), path, "YOLO label file")
    boxes, classes = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}, line {number}"
        if len(parts) < 5 or (len(parts) > 5 and len(parts) % 2 == 0):
            raise AnnotationError(f"{where} has {len(parts)} values; a YOLO box is 'class cx cy w h' "
                                  f"(or 'class x1 y1 x2 y2 ...' for a polygon).")
        try:
            values = [float(v) for v in parts[1:]]
            label = int(parts[0])
        except ValueError:
            raise AnnotationError(f"{where} has a value that is not a number: {line.strip()[:60]!r}.") from None
        if not 0 <= label < num_classes:
            raise AnnotationError(f"{where} has class {label}, but the dataset names {num_classes} classes "
                                  f"(0 to {num_classes - 1}).")
        if not all(np.isfinite(values)) or min(values) < 0 or max(values) > 1:
            raise AnnotationError(f"{where} has coordinates outside [0, 1]; YOLO labels are normalised "
                                  f"to the image size.")
        if len(values) == 4:
            cx, cy, w, h = values
        else:
            xs, ys = values[0::2], values[1::2]
            cx, cy, w, h = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)
        boxes.append((cx - w / 2, cy - h / 2, w, h))
        classes.append(label)
    scale = np.array([size[0], size[1], size[0], size[1]], np.float64)
    return np.asarray(boxes, np.float64).reshape(-1, 4) * scale, np.asarray(classes, np.int64)


def _names(value, source: Path) -> list[str]:
    if isinstance(value, (dict, list)):
        check_class_count(len(value), source)
    if isinstance(value, dict):
        try:
            keys = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            raise AnnotationError(f"{source}: 'names' must map class indices (0, 1, ...) to names.") from None
        if keys != list(range(len(keys))):
            raise AnnotationError(f"{source}: 'names' must number the classes 0 to {len(keys) - 1} without gaps.")
        return [str(value.get(k, value.get(str(k)))) for k in keys]
    if isinstance(value, list) and value:
        return [str(v) for v in value]
    raise AnnotationError(f"{source} has no class 'names' (a list, or a mapping from index to name).")


def _load_yaml(path: Path) -> dict:
    import yaml

    from detviewer.io.data_yaml import YamlTooLarge, load_data_yaml

    text = decode_text(read_regular(path, MAX_TEXT_BYTES, "data.yaml"), path, "data.yaml")
    try:
        data = load_data_yaml(text)
    except YamlTooLarge as exc:
        raise AnnotationError(f"{path} {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnnotationError(f"{path} is not valid YAML{at}.") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path} is not an Ultralytics data.yaml: its top level is not a mapping.")
    return data


def _split_images(entry, root: Path, source: Path) -> list[Path]:
    """Images of a split entry: folder(s) or .txt list(s) of image paths, relative to ``root``."""
    entries = entry if isinstance(entry, list) else [entry]
    images: list[Path] = []
    for item in entries:
        p = Path(str(item))
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            images += list_images(p, recursive=True)
        elif p.suffix == ".txt" and p.is_file():
            text = read_regular(p, MAX_TEXT_BYTES, "list of images").decode("utf-8-sig", errors="replace")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            # Ultralytics: "./x.jpg" is relative to the list's folder, other relative paths to the root
            images += [Path(x) if Path(x).is_absolute() else (p.parent if x.startswith("./") else root) / x
                       for x in lines]
        else:
            raise AnnotationError(f"{source}: the split '{item}' is neither a folder nor a .txt list of images "
                                  f"(looked for {p}).")
    return images


def open_yolo_yaml(path: str | os.PathLike, split: str | None = None) -> Dataset:
    """Open the evaluation split (val, else test, else train) of an Ultralytics data.yaml."""
    path = Path(path)
    data = _load_yaml(path)
    names = _names(data.get("names"), path)
    root = Path(str(data.get("path", "") or "."))
    root = root if root.is_absolute() else (path.parent / root)
    splits = [split] if split else [s for s in SPLITS if data.get(s)]
    if not splits or not data.get(splits[0]):
        raise AnnotationError(f"{path} names no image split ({', '.join(SPLITS)}).")
    images = _split_images(data[splits[0]], root, path)
    return _build(images, root.resolve(), names, path, [])


def _folder_names(folder: Path) -> list[str] | None:
    for candidate in (folder / "classes.txt", folder / "labels" / "classes.txt", folder / "obj.names"):
        if candidate.is_file():
            text = read_regular(candidate, MAX_TEXT_BYTES, "class list").decode("utf-8-sig", errors="replace")
            names = [ln.strip() for ln in text.splitlines() if ln.strip()]
            check_class_count(len(names), candidate)
            return names
    return None


def open_yolo_folder(folder: str | os.PathLike) -> Dataset:
    """A folder with images/ and labels/ (or images with .txt beside them); names from classes.txt,
    or from a data.yaml inside the folder."""
    folder = Path(folder)
    for yaml_name in ("data.yaml", "dataset.yaml"):
        if (folder / yaml_name).is_file():
            return open_yolo_yaml(folder / yaml_name)
    names = _folder_names(folder)
    if names is None:
        raise AnnotationError(f"{folder} has YOLO labels but no class names: add a classes.txt (one name per "
                              f"line) or a data.yaml.")
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    return _build(list_images(image_dir, recursive=True), folder.resolve(), names, folder, [])


def _build(images: list[Path], root: Path, names: list[str], source: Path, warnings: list[str]) -> Dataset:
    rel_paths, per_image = [], []
    missing = 0
    for image in images:
        size = image_size(image) if image.is_file() else None
        if size is None:
            warnings.append(f"{image} is not a readable image; left out." if image.exists()
                            else f"{image} does not exist; left out.")
            continue
        labels = label_path(image)
        if labels.exists():  # a folder, a pipe or a device here is named (read_label_file), not "no objects"
            try:
                xywh, classes = read_label_file(labels, len(names), size)
            except AnnotationError as exc:
                warnings.append(f"{exc} Its image is left out.")
                continue
        else:
            missing += 1
            xywh, classes = np.zeros((0, 4)), np.zeros(0, np.int64)
        rel_paths.append(_relative(image, root))
        per_image.append((xywh, classes, np.zeros(len(classes), bool)))
    if not rel_paths:
        raise AnnotationError(f"{source}: no image could be loaded" + (f" ({warnings[0]})" if warnings else "."))
    stems = [Path(r).stem for r in rel_paths]
    ids = [int(s) for s in stems] if all(s.isdigit() for s in stems) and len(set(map(int, stems))) == len(stems) \
        else None  # Ultralytics' JSON uses int(stem) as image_id when the names are numbers
    return dataset_from_boxes(root, rel_paths, names, per_image, "yolo", source, warnings, image_ids=ids)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def looks_like_yolo(folder: Path) -> bool:
    """A folder with labels/ (or data.yaml / classes.txt beside images)."""
    return any((folder / n).exists() for n in ("labels", "data.yaml", "dataset.yaml")) or \
        ((folder / "classes.txt").is_file() and any(is_image_path(p) for p in folder.iterdir()))
