"""What every source yields (Qt-free): a ``Frame``, and which files are videos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from detviewer.errors import SourceError

__all__ = ["Frame", "VIDEO_EXTENSIONS", "is_video_path", "FrameCallback", "ErrorCallback"]

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
    """

    image: np.ndarray
    source_id: str
    index: int = 0
    timestamp: float = 0.0
    path: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
