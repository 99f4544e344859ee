"""Opening a dataset in the window and showing one of its images with the boxes behind a number (the
Evaluation workspace's way to the canvas). Functions of the window, like the menus'."""

from __future__ import annotations

from pathlib import Path

from detviewer.gui.messages import ERROR, WARNING

__all__ = ["is_dataset", "open_dataset", "show_dataset_image"]


def is_dataset(path: Path) -> bool:
    """A data.yaml, a COCO .json, or a YOLO / VOC dataset folder (a plain folder of images is not)."""
    if path.is_file():
        return path.suffix.lower() in (".yaml", ".yml", ".json")
    if path.is_dir():
        from detviewer.io.voc_xml import looks_like_voc
        from detviewer.io.yolo_txt import looks_like_yolo

        return looks_like_yolo(path) or looks_like_voc(path)
    return False


def open_dataset(window, path) -> None:
    """Read the dataset off the GUI thread, then show it in the workspace and its first image."""
    from detviewer.io.datasets import open_dataset as read_dataset

    window.workspace_dock.show()
    window.say(f"Reading the dataset {Path(path).name}…")

    def done(dataset, error: str) -> None:
        if error:
            window.say(f"No dataset opened: {error}", ERROR)
            return
        for text in dataset.warnings:
            window.say(text, WARNING)
        window.workspace.set_dataset(dataset)
        window.say(f"Dataset: {dataset.summary()}.")
        show_dataset_image(window, dataset, 0, [])

    window.background.task(("dataset", str(path)), lambda _context: read_dataset(path), "reading the dataset", done,
                           slot="dataset")


def show_dataset_image(window, dataset, image: int, overlays, view: str | None = None, point=None,
                       note: str = "") -> None:
    """Image ``image`` of ``dataset`` with its ground truth and ``overlays`` (state.overlays.Overlay) over its
    result; view: switch to it (e.g. "anchors", at ``point``)."""
    from detviewer.io.sources import ImageListSource

    paths = [Path(p) for p in dataset.image_paths]
    source = window.feed.source
    if not isinstance(source, ImageListSource) or list(source.paths) != paths:
        window.feed.open_source(ImageListSource(paths))
        window.ground_truth.use_dataset(dataset)
    path = paths[image]
    window.state.set_overlays(path, overlays)
    if view is not None:
        window.state.set_view(view)
        if point is not None:
            window.state.set_point(point, view)
    if window.feed.index != image or window.feed.current_frame is None:
        window.feed.go(image)
    if note:
        window.say(f"{path.name}: {note}.", per_image=True)
