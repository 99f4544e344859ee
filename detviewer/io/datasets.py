"""``open_dataset(path)``: a COCO JSON file, an Ultralytics data.yaml, or a folder -> images + ground truth.

A folder is read as YOLO txt when it has ``labels/``, a data.yaml or a classes.txt; as Pascal VOC
when it has ``Annotations/`` or .xml files; as COCO when a COCO file lies in it (the names
``io.image_gt`` looks for). COCO images are looked up by their ``file_name`` relative to the JSON's
folder, its ``images/`` folder, its parent, or the split folder beside COCO's ``annotations/``
(``instances_val2017.json`` -> ``../val2017``); images not on disk are named in a warning (the
ground truth still evaluates a results file, only running a model needs the files).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from detviewer.errors import AnnotationError
from detviewer.io.annotations import load_coco_gt
from detviewer.io.dataset_types import Dataset
from detviewer.io.image_gt import find_annotations
from detviewer.io.voc_xml import looks_like_voc, open_voc
from detviewer.io.yolo_txt import looks_like_yolo, open_yolo_folder, open_yolo_yaml

__all__ = ["Dataset", "open_dataset", "open_coco"]


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset; AnnotationError (one sentence) when ``path`` is none detviewer can read."""
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: no such file or folder.")
    if not path.is_dir():  # a file; a pipe or device with a dataset's suffix is refused by its reader
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            return open_yolo_yaml(path)
        if suffix == ".json":
            return open_coco(path)
        raise AnnotationError(f"{path} is not a dataset detviewer reads: give a COCO .json, an Ultralytics "
                              f"data.yaml, or a folder (YOLO labels/, VOC Annotations/).")
    if looks_like_yolo(path):
        return open_yolo_folder(path)
    if looks_like_voc(path):
        return open_voc(path)
    coco = [p for p in find_annotations([path]) if p.parent == path or p.parent == path / "annotations"]
    if coco:
        return open_coco(coco[0])
    raise AnnotationError(f"{path} holds no dataset detviewer knows: no labels/ or data.yaml (YOLO), no "
                          f"Annotations/ or .xml files (VOC), no COCO .json.")


def _image_roots(json_path: Path) -> list[Path]:
    folder = json_path.resolve().parent
    roots = [folder, folder / "images", folder.parent, folder.parent / "images"]
    split = re.match(r"(?:instances|person_keypoints|captions)_(\w+)\.json$", json_path.name)
    if split:
        roots.append(folder.parent / split.group(1))
        roots.append(folder.parent / "images" / split.group(1))
    return roots


def open_coco(path: str | os.PathLike) -> Dataset:
    """A COCO ground-truth file and its images (see the module docstring)."""
    path = Path(path)
    gt = load_coco_gt(path)
    names = [n.replace("\\", "/") for n in gt.file_names]
    sample = [n for n in names if n][:20]
    hits = [sum((candidate / n).is_file() for n in sample) for candidate in _image_roots(path)]
    root = _image_roots(path)[hits.index(max(hits))] if hits else path.resolve().parent
    paths = tuple(root / n for n in names)
    warnings = []
    blank = sum(1 for n in names if not n)
    if blank:
        warnings.append(f"{path}: {blank} images have no file_name.")
    missing = [p for p, n in zip(paths, names) if n and not p.is_file()] if len(paths) <= 20_000 else []
    odd = [p for p in missing if p.exists()]
    if odd:
        warnings.append(f"{len(odd)} of the {len(paths)} images of {path} are not regular files (first: {odd[0]}); "
                        f"they are not read.")
    missing = [p for p in missing if not p.exists()]
    if missing:
        warnings.append(f"{len(missing)} of the {len(paths)} images of {path} are not on disk "
                        f"(first: {missing[0]}).")
    return Dataset(gt=gt, root=root, image_paths=paths, format="coco", source=path, warnings=tuple(warnings))
