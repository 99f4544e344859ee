"""The window's ground truth: which COCO file is loaded, for which folder of images, the boxes of a frame.

Ground truth belongs to the folder of images it was found (or opened) for: opening another folder forgets
it, and an image matches an annotation only by its path relative to the GT file or that folder, never by
a file name that happens to be the same elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from detviewer.errors import DetviewerError
from detviewer.io.image_gt import ImageBoxes, ImageGroundTruth, search_ground_truth, unused_annotations_sentence

if TYPE_CHECKING:
    from detviewer.gui.background import BackgroundWork
    from detviewer.io.dataset_types import Dataset
    from detviewer.io.frames import Frame

__all__ = ["GroundTruthHolder"]


class GroundTruthHolder(QObject):
    """Holds at most one COCO ground truth; ``changed`` after a load or a clear (showing it is the ViewerState's switch)."""

    changed = Signal()
    message = Signal(str)  # one sentence for the status bar

    def __init__(self, background: BackgroundWork, parent: QObject | None = None) -> None:
        """background: gui.background.BackgroundWork (discovery runs in its task runner)."""
        super().__init__(parent)
        self._background = background
        self._search = 0  # the latest discovery; an older one's answer is dropped
        self.truth: ImageGroundTruth | None = None
        self.image_root: Path | None = None  # the folder of the images the ground truth is for
        self._cache: dict = {}

    @property
    def path(self) -> Path | None:
        return None if self.truth is None else self.truth.path

    def load(self, path: str | os.PathLike, truth: ImageGroundTruth | None = None,
             image_root: str | os.PathLike | None = None) -> bool:
        """Load a COCO file for the images of ``image_root`` (default: the folder already open), or take
        ``truth``, already loaded from it; False (and a message) if it is not one: the old one stays then."""
        root = Path(image_root) if image_root is not None else self.image_root
        if truth is None:
            try:
                truth = ImageGroundTruth.load(path, image_root=root, strict=True)
            except DetviewerError as exc:
                self.message.emit(f"No ground truth loaded: {exc}")
                return False
        self.truth, self._cache, self.image_root = truth, {}, root
        self.message.emit(f"Ground truth: {Path(path).name} ({truth.num_images} images, "
                          f"{len(truth.gt.boxes.ids)} boxes).")
        self.changed.emit()
        return True

    def use_dataset(self, dataset: Dataset) -> None:
        """The ground truth of an opened dataset (io.dataset_types.Dataset) for its images."""
        self.truth = ImageGroundTruth(dataset.gt, image_root=dataset.root, strict=True)
        self.image_root, self._cache = Path(dataset.image_paths[0]).resolve().parent if dataset.image_paths else None, {}
        self.changed.emit()

    def discover(self, opened: Iterable[str | os.PathLike], images: Iterable[str | os.PathLike]) -> bool:
        """Look for the COCO file beside the ``opened`` paths for ``images`` (the image files now in the list;
        none for a video: nothing is looked for), in the task runner: parsing a large file takes seconds.
        Another folder than the one the ground truth is for forgets it. True when a search was started; what
        it finds arrives as ``changed`` (or a ``message`` naming the files found but not used).

        Call it before the first frame's decoding is queued: the task runner keeps order, so the ground truth
        is in place before that frame's result.
        """
        sample = [Path(p) for p in list(images)[:20]]
        root = sample[0].resolve().parent if sample else None
        if self.truth is not None and root != self.image_root:
            self.clear()  # another folder: its ground truth, if any, is found for it below
        self._search += 1
        if not sample or self.truth is not None:
            return False
        search, opened = self._search, [Path(p) for p in opened]

        def done(value: tuple[ImageGroundTruth | None, list[str]], error: str) -> None:
            if search != self._search or self.truth is not None:
                return  # another folder was opened, or a file chosen by the user, meanwhile
            if error:
                self.message.emit(f"No ground truth loaded: {error}")
                return
            truth, reasons = value
            if truth is not None:
                self.load(truth.path, truth, image_root=root)
            elif reasons:
                self.message.emit(unused_annotations_sentence(reasons)
                                  + " Use File → Open ground truth (COCO JSON) to choose one.")

        self._background.task(("ground_truth", search), lambda _context: search_ground_truth(opened, sample, root),
                              "looking for ground truth", done, slot="ground_truth")
        return True

    def clear(self) -> None:
        self.truth, self._cache, self.image_root = None, {}, None
        self.changed.emit()

    def for_frame(self, frame: Frame | None, class_names: Sequence[str] = ()) -> ImageBoxes | None:
        """The shown frame's boxes in the model's label space; None when absent or unlisted."""
        if self.truth is None or frame is None or frame.path is None:
            return None
        key = (frame.path, tuple(class_names))
        if key not in self._cache:
            self._cache = {key: self.truth.boxes_for(frame.path, class_names)}  # one frame at a time
        return self._cache[key]
