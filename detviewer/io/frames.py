"""What every source yields (Qt-free): a ``Frame``, and which files are videos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detviewer.errors import SourceError

__all__ = ["Frame", "VIDEO_EXTENSIONS", "is_video_path", "FrameCallback", "ErrorCallback", "DISPLAY_MAX_SIDE",
           "with_display_copy"]

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})

FrameCallback = Callable[["Frame"], None]
ErrorCallback = Callable[[SourceError], None]


class _EndOfStream(Exception):
    """Raised by a grab function when a finite stream is exhausted (not an error)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One image to run a detector on.

    image (H, W, 3) uint8 RGB; source_id names the file/camera; index is the frame or file
    number inside the source; timestamp is seconds (video position, or ``time.monotonic()``
    when grabbed for live sources); path is the file the frame came from, if any.
    display: the image shrunk for showing it whole (``with_display_copy``), or None when the image itself is.
    """

    image: np.ndarray
    source_id: str
    index: int = 0
    timestamp: float = 0.0
    path: str | None = None
    display: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])


#: Longest side of the copy a huge photo is shown with while zoomed out (a screen's width, about): turning
#: a 24-megapixel frame into a QImage and scaling it takes 18 ms of the GUI thread, its 2048 px copy 4 ms.
DISPLAY_MAX_SIDE = 2048


def with_display_copy(frame: Frame, max_side: int = DISPLAY_MAX_SIDE) -> Frame:
    """``frame`` with ``display`` set to its image shrunk (area interpolation) so that the longer side is
    ``max_side``; the frame unchanged when it is no larger. Run it where the frame is decoded, off the GUI."""
    from dataclasses import replace

    import cv2

    h, w = frame.image.shape[:2]
    if max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return replace(frame, display=cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
