"""The window's ground truth: which COCO file is loaded, whether it is shown, the boxes of a frame."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from detviewer.errors import DetviewerError
from detviewer.io.image_gt import (MAX_AUTO_BYTES, ImageBoxes, ImageGroundTruth, find_annotations,
                                  unused_annotations_sentence)

__all__ = ["GroundTruthHolder"]


class GroundTruthHolder(QObject):
    """Holds at most one COCO ground truth; ``changed`` after a load, a clear or a show/hide."""

    changed = Signal()
    message = Signal(str)  # one sentence for the status bar

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.truth: ImageGroundTruth | None = None
        self.shown = True
        self._cache: dict = {}

    @property
    def path(self) -> Path | None:
        return None if self.truth is None else self.truth.path

    def load(self, path, truth: ImageGroundTruth | None = None) -> bool:
        """Load a COCO file (or take ``truth``, already loaded from it); False (and a message) if it is
        not one: the old one stays then."""
        if truth is None:
            try:
                truth = ImageGroundTruth.load(path)
            except DetviewerError as exc:
                self.message.emit(f"No ground truth loaded: {exc}")
                return False
        self.truth, self._cache = truth, {}
        self.message.emit(f"Ground truth: {Path(path).name} ({truth.num_images} images, "
                          f"{len(truth.gt.boxes.ids)} boxes).")
        self.changed.emit()
        return True

    def discover(self, opened, images) -> bool:
        """Load the COCO file found beside the ``opened`` paths unless the loaded one covers ``images``.

        images: the image files now in the file list (none for a video: nothing is looked for).
        Files found are tried nearest first; the first that lists these images is kept. Files that
        do not parse, list none of them, or are too large to read without a pause are reported.
        """
        sample = [Path(p) for p in list(images)[:20]]
        if not sample or (self.truth is not None and any(self.truth.image_id(p) is not None for p in sample)):
            return False
        reasons = []
        for found in find_annotations(opened):
            if self.truth is not None and self.truth.path == found:
                continue
            if found.stat().st_size > MAX_AUTO_BYTES:
                reasons.append(f"{found.name} is {found.stat().st_size / 2**20:.0f} MB (open it yourself)")
                continue
            try:
                truth = ImageGroundTruth.load(found)
            except DetviewerError as exc:
                reasons.append(f"cannot use {found.name}: {exc}")
                continue
            if any(truth.image_id(p) is not None for p in sample):
                return self.load(found, truth)
            reasons.append(f"{found.name} does not list them")
        if reasons:
            self.message.emit(unused_annotations_sentence(reasons)
                              + " Use File → Open ground truth (COCO JSON) to choose one.")
        return False

    def clear(self) -> None:
        self.truth, self._cache = None, {}
        self.changed.emit()

    def set_shown(self, shown: bool) -> None:
        if shown != self.shown:
            self.shown = bool(shown)
            self.changed.emit()

    def for_frame(self, frame, class_names=()) -> ImageBoxes | None:
        """The shown frame's boxes in the model's label space; None when hidden, absent or unlisted."""
        if not self.shown or self.truth is None or frame is None or frame.path is None:
            return None
        key = (frame.path, tuple(class_names))
        if key not in self._cache:
            self._cache = {key: self.truth.boxes_for(frame.path, class_names)}  # one frame at a time
        return self._cache[key]
