"""Ground truth for the image on screen: a COCO file found next to the images, looked up by path.

``find_annotations`` looks for a COCO file beside opened images (``annotations.json``,
``instances*.json``, Roboflow's ``_annotations.coco.json``, in the folder or its parent) so that the
bundled demo and most exported datasets show their ground truth without a dialog;
``ImageGroundTruth`` answers "which boxes does this file have", in a model's label space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from detviewer.errors import AnnotationError, DetviewerError
from detviewer.io.annotations import CocoGroundTruth, category_ids_by_name, load_coco_gt, match_image_ids

__all__ = ["ImageGroundTruth", "ImageBoxes", "find_annotations", "search_ground_truth", "unused_annotations_sentence",
           "ANNOTATION_NAMES", "MAX_AUTO_BYTES"]

#: File names tried, in order, in an image's folder, its parent folder, and the parent's ``annotations``
#: folder (COCO's own layout: ``val2017/`` beside ``annotations/instances_val2017.json``).
ANNOTATION_NAMES = ("annotations.json", "_annotations.coco.json", "instances*.json")
#: Auto-discovery skips files larger than this (COCO's train annotations are ~450 MB: minutes to parse).
MAX_AUTO_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class ImageBoxes:
    """One image's ground truth: xyxy (M, 4) float32 pixels, labels (M,) int64 in the model's label
    space (-1 where the model has no class of that name), names (M,) the GT's category names, crowd
    (M,) bool the ``iscrowd`` regions (not objects to find: COCO ignores detections on them)."""

    xyxy: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    crowd: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.crowd is None:
            object.__setattr__(self, "crowd", np.zeros(len(self.xyxy), bool))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @property
    def objects(self) -> np.ndarray:
        """(M,) bool: the boxes that are objects (not crowd regions)."""
        return ~cast(np.ndarray, self.crowd)  # set by __post_init__

    @property
    def as_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """(boxes, labels) of the objects (crowd regions left out), the form the teaching views take."""
        keep = self.objects
        return self.xyxy[keep], self.labels[keep]


def find_annotations(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """COCO-looking files beside ``paths`` (image files or folders), nearest first (may be empty)."""
    folders: list[Path] = []
    for p in paths:
        p = Path(p)
        folder = p if p.is_dir() else p.parent
        for f in (folder, folder.parent, folder.parent / "annotations"):
            if f not in folders:
                folders.append(f)
    found: list[Path] = []
    for folder in folders:
        for pattern in ANNOTATION_NAMES:
            hits = sorted(folder.glob(pattern)) if "*" in pattern else [folder / pattern]
            found += [hit for hit in hits if hit.is_file() and hit not in found]
    return found


def search_ground_truth(opened: Sequence[str | os.PathLike], images: Sequence[str | os.PathLike],
                        image_root: str | os.PathLike) -> tuple[ImageGroundTruth | None, list[str]]:
    """The COCO ground truth beside ``opened`` (image files or folders) that lists some of ``images`` (a sample
    of the image files now open, in ``image_root``), and why each other file found was not taken.

    Files are tried nearest first (find_annotations); a file over MAX_AUTO_BYTES is skipped (it would take
    minutes to parse), one that does not parse or lists none of the images gives a reason. Parsing can take
    seconds: the window calls this off its thread."""
    reasons: list[str] = []
    for found in find_annotations(opened):
        size = found.stat().st_size
        if size > MAX_AUTO_BYTES:
            reasons.append(f"{found.name} is {size / 2**20:.0f} MB (open it yourself)")
            continue
        try:
            truth = ImageGroundTruth.load(found, image_root=image_root, strict=True)
        except DetviewerError as exc:
            reasons.append(f"cannot use {found.name}: {exc}")
            continue
        if any(truth.image_id(p) is not None for p in images):
            return truth, reasons
        reasons.append(f"{found.name} does not list them")
    return None, reasons


def unused_annotations_sentence(reasons: Sequence[str]) -> str:
    """One sentence for the COCO files found beside the images but not used, one reason each.

    reasons: clauses or whole sentences (an AnnotationError's message ends in a full stop: it
    is dropped, so the joined sentence never reads ".;" or "..").
    """
    clauses = [reason.strip().rstrip(".").rstrip() for reason in reasons]
    return "No ground truth for these images: " + "; ".join(c for c in clauses if c) + "."


class ImageGroundTruth:
    """A loaded COCO ground truth; ``boxes_for(path, class_names)`` gives one image's boxes.

    image_root: the folder of the images it was found for; strict: an image matches only by its path
    relative to the GT file's folder or to image_root (the window: never a same-named image of another
    folder); otherwise a unique base name matches too (the command line, which names both files).
    """

    def __init__(self, gt: CocoGroundTruth, image_root: str | os.PathLike | None = None, strict: bool = False) -> None:
        self.gt = gt
        self.image_root = None if image_root is None else Path(image_root).resolve()
        self.strict = strict
        self._names = dict(zip(gt.category_ids.tolist(), gt.category_names))
        self._ids: dict[Path, int | None] = {}

    @classmethod
    def load(cls, path: str | os.PathLike, image_root: str | os.PathLike | None = None,
             strict: bool = False) -> ImageGroundTruth:
        """Load a COCO file; AnnotationError (one sentence) if it is not one."""
        return cls(load_coco_gt(path), image_root, strict)

    @property
    def path(self) -> Path | None:
        return self.gt.path

    @property
    def num_images(self) -> int:
        return self.gt.num_images

    def image_id(self, path: str | os.PathLike) -> int | None:
        """The GT image id of an image file, or None when the file is not in the ground truth."""
        key = Path(path).resolve()
        if key not in self._ids:
            try:
                roots = [self.image_root] if self.image_root is not None else []
                (self._ids[key],) = match_image_ids([key], self.gt, allow_missing=True, image_roots=roots,
                                                    by_base_name=not self.strict)
            except AnnotationError:  # two GT images share its base name: no safe answer
                self._ids[key] = None
        return self._ids[key]

    def boxes_for(self, path: str | os.PathLike | None, class_names: Sequence[str] = ()) -> ImageBoxes | None:
        """The boxes of the image at ``path``; None when it is not in the ground truth."""
        if path is None:
            return None
        image_id = self.image_id(path)
        if image_id is None:
            return None
        xyxy, category_ids, crowd = self.gt.annotations_of(image_id)
        names = tuple(self._names[c] for c in category_ids.tolist())
        label_of = {cid: label for label, cid in category_ids_by_name(class_names, self.gt).items()}
        labels = np.array([label_of.get(c, -1) for c in category_ids.tolist()], np.int64)
        return ImageBoxes(np.ascontiguousarray(xyxy, np.float32), labels, names, np.asarray(crowd, bool))

