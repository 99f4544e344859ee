"""Opening a dataset in the session and showing one of its images with the boxes behind a number (the
Evaluation workspace's way to the canvas). Functions of the session (gui.session.Session)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from detviewer.gui.messages import ERROR, WARNING

if TYPE_CHECKING:
    from detviewer.io.dataset_types import Dataset
    from detviewer.state.overlays import Overlay

__all__ = ["is_dataset", "read_dataset_task", "show_dataset_image"]


def is_dataset(path: Path) -> bool:
    """A data.yaml, a COCO .json, or a YOLO / VOC dataset folder (a plain folder of images is not)."""
    if path.is_file():
        return path.suffix.lower() in (".yaml", ".yml", ".json")
    if path.is_dir():
        from detviewer.io.voc_xml import looks_like_voc
        from detviewer.io.yolo_txt import looks_like_yolo

        return looks_like_yolo(path) or looks_like_voc(path)
    return False


def read_dataset_task(session, path: str | os.PathLike) -> None:
    """Read the dataset off the GUI thread, then make it the session's (``DatasetChanged``) and show its first image.

    session: gui.session.Session."""
    from detviewer.io.datasets import open_dataset as read_dataset

    session.say(f"Reading the dataset {Path(path).name}…")

    def done(dataset: Dataset, error: str) -> None:
        if error:
            session.say(f"No dataset opened: {error}", ERROR)
            return
        for text in dataset.warnings:
            session.say(text, WARNING)
        session.set_dataset(dataset)
        session.say(f"Dataset: {dataset.summary()}.")
        session.select(0)

    session.background.task(("dataset", str(path)), lambda _context: read_dataset(path), "reading the dataset", done,
                            slot="dataset")


def show_dataset_image(session, dataset: Dataset, image: int, overlays: Sequence[Overlay],
                       view: str | None = None, point: tuple[float, float] | None = None,
                       note: str = "") -> None:
    """Image ``image`` of ``dataset`` with its ground truth and ``overlays`` (state.overlays.Overlay) over its
    result; view: switch to it (e.g. "anchors", at ``point``). session: gui.session.Session."""
    from detviewer.io.sources import ImageListSource

    paths = [Path(p) for p in dataset.image_paths]
    source = session.feed.source
    if not isinstance(source, ImageListSource) or list(source.paths) != paths:
        session.feed.open_source(ImageListSource(paths))
        session.ground_truth.use_dataset(dataset)
    path = paths[image]
    session.state.set_overlays(path, overlays)
    if view is not None:
        session.state.set_view(view)
        if point is not None:
            session.state.set_point(point, view)
    if session.feed.index != image or session.feed.current_frame is None:
        session.feed.go(image)
    if note:
        session.say(f"{path.name}: {note}.", per_image=True, topic="selection")
