"""The window's ground truth: which COCO file is loaded, whether it is shown, the boxes of a frame."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from detviewer.errors import DetviewerError
from detviewer.io.image_gt import ImageBoxes, ImageGroundTruth, find_annotations

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

        images: the image files now in the file list. A file that is found but does not parse, or
        that lists none of these images, is reported and not kept, so an unrelated
        ``annotations.json`` never replaces the images' real ground truth.
        """
        sample = [Path(p) for p in list(images)[:20]]
        if self.truth is not None and any(self.truth.image_id(p) is not None for p in sample):
            return False
        found = find_annotations(opened)
        if found is None:
            return False
        try:
            truth = ImageGroundTruth.load(found)
        except DetviewerError as exc:
            self.message.emit(f"Found {found.name} beside the images but cannot use it: {exc}")
            return False
        if sample and all(truth.image_id(p) is None for p in sample):
            self.message.emit(f"{found.name} was found beside the images but does not list them; "
                              "open their ground truth with File → Open ground truth….")
            return False
        return self.load(found, truth)

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
