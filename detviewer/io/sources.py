"""Frame sources (Qt-free): what a user opened (image files, a folder, a video) as one source.

*Indexed* sources (``ImageListSource``, ``VideoFileSource``) read frame ``i`` on request (``read(i)``), for
browsing, seeking and stepping; *streaming* sources (io.streams: videos while playing, cameras, a synthetic
source) grab in their own thread. Every source yields ``io.frames.Frame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from detviewer.errors import SourceError
from detviewer.io.frames import Frame, is_video_path
from detviewer.io.images import list_images, load_image
from detviewer.io.streams import VideoFileSource

__all__ = ["ImageListSource", "source_for_paths"]


class ImageListSource:
    """A list of image files browsed one at a time (a folder, or files given together)."""

    kind = "images"

    def __init__(self, paths: Sequence[str | Path], name: str = "") -> None:
        self.paths = [Path(p) for p in paths]
        self.name = name or (str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} images")

    @classmethod
    def from_folder(cls, folder: str | Path) -> ImageListSource:
        """All images of ``folder`` sorted by name; raises SourceError if there are none."""
        folder = Path(folder)
        if not folder.is_dir():
            raise SourceError(f"Cannot open folder {folder}: it does not exist.")
        paths = list_images(folder)
        if not paths:
            raise SourceError(f"Folder {folder} contains no images.")
        return cls(paths, name=str(folder))

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> Frame:
        """Decode image ``index``; raises ImageLoadError (one sentence) for a broken file."""
        path = self.paths[index]
        image = load_image(path)
        return Frame(image=image, source_id=self.name, index=int(index), timestamp=0.0, path=str(path))


def source_for_paths(paths: Sequence[str | Path]) -> VideoFileSource | ImageListSource:
    """The source for what a user opened: one video, one folder, or a list of images.

    Folders given among files are expanded (images sorted by name). Raises SourceError with
    one sentence when nothing openable is left.
    """
    given = [Path(p) for p in paths]
    if not given:
        raise SourceError("Nothing to open: no path was given.")
    if not any(p.exists() for p in given):
        raise SourceError(f"Cannot open {given[0]}: no such file or folder.")
    if len(given) == 1 and is_video_path(given[0]):
        return VideoFileSource(given[0])
    if len(given) == 1 and given[0].is_dir():
        return ImageListSource.from_folder(given[0])
    images: list[Path] = []
    for p in given:
        if p.is_dir():
            images.extend(list_images(p))
        elif is_video_path(p):
            continue  # a video among images is opened on its own, not mixed into the list
        else:
            images.append(p)
    if not images:
        videos = [p for p in given if is_video_path(p)]
        if videos:
            return VideoFileSource(videos[0])
        raise SourceError(f"Nothing to open in {given[0]}: no images found.")
    return ImageListSource(images)
