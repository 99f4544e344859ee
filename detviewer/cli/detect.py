"""`detviewer detect`: run a detector on images, folders and videos; write COCO results JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from detviewer.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from detviewer.errors import AnnotationError, DetviewerError


@dataclass(frozen=True)
class WorkItem:
    """One input image, or one video (expanded into frames while running)."""

    path: Path
    is_video: bool


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run a detector on images, folders or videos and write COCO results.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or video files")
    p.add_argument("--model", required=True, help="detector name (see 'detviewer models')")
    p.add_argument("--weights", default="default", help="coco, none, default or a checkpoint path")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--score", type=float, default=0.0, help="drop detections scoring below this")
    p.add_argument("--gt", type=Path, help="COCO ground truth: take image_id and category_id from it")
    p.add_argument("--out", type=Path, help="results file (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def expand_inputs(inputs: list[str]) -> tuple[list[WorkItem], list[str]]:
    """Images, folders (their images, naturally sorted) and videos -> work items, plus error lines."""
    from detviewer.io.images import is_image_path, list_images
    from detviewer.io.sources import is_video_path

    items, errors = [], []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path)
            if not found:
                errors.append(f"{path}: folder holds no images")
            items.extend(WorkItem(p, False) for p in found)
        elif not path.exists():
            errors.append(f"{path}: no such file or folder")
        elif is_video_path(path):
            items.append(WorkItem(path, True))
        elif is_image_path(path):
            items.append(WorkItem(path, False))
        else:
            errors.append(f"{path}: not an image or video file detviewer knows ({path.suffix or 'no extension'})")
    return items, errors


def _frames(item: WorkItem) -> Iterator[tuple[str, object]]:
    """(name, RGB image) for an image file or for every frame of a video."""
    if not item.is_video:
        from detviewer.io.images import load_image

        yield str(item.path), load_image(item.path)
        return
    from detviewer.io.sources import VideoFileSource

    video = VideoFileSource(item.path)
    try:
        for index in range(len(video)):
            yield f"{item.path}#{index}", video.read(index).image
    finally:
        video.close()


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()
        self.start = time.perf_counter()

    def step(self, name: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * min(self.done, self.total) / max(self.total, 1))
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"{rate:.1f} img/s {Path(name).name[:40]:<40}")
        sys.stderr.flush()

    def message(self, line: str) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
        print(line, file=sys.stderr)

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _image_ids_from_gt(items: list[WorkItem], gt) -> dict[Path, int | None]:
    from detviewer.io.annotations import match_image_ids

    images = [item.path for item in items if not item.is_video]
    return dict(zip(images, match_image_ids(images, gt, allow_missing=True)))


def run(args) -> int:
    from detviewer.io.annotations import category_ids_by_name, coco_results_from_detections, load_coco_gt

    items, errors = expand_inputs(args.inputs)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if not items:
        print("error: nothing to run on", file=sys.stderr)
        return EXIT_USAGE
    gt = load_coco_gt(args.gt) if args.gt else None
    gt_ids = _image_ids_from_gt(items, gt) if gt is not None else {}

    from detviewer.detectors.registry import load_detector

    detector = load_detector(args.model, weights=args.weights, device=args.device)
    label_to_category = None
    if gt is not None:
        label_to_category = category_ids_by_name(detector.class_names, gt)
        if not label_to_category:
            raise AnnotationError(f"None of {args.model}'s classes is a category of {args.gt}.")
    results: list[dict] = []
    failures = len(errors)
    next_index = 1
    progress = Progress(len(items), not args.quiet)
    for item in items:
        try:
            if gt is not None and (item.is_video or gt_ids[item.path] is None):
                raise AnnotationError(f"{item.path} is not an image of {args.gt} (no file_name matches it).")
            for _name, image in _frames(item):
                if gt is not None:
                    image_id = gt_ids[item.path]
                else:
                    image_id, next_index = next_index, next_index + 1
                detections = detector.infer(image).detections
                detections = detections[detections.scores >= args.score]
                results.extend(coco_results_from_detections(image_id, detections, label_to_category))
        except DetviewerError as exc:
            failures += 1
            progress.message(f"error: {exc}")
        progress.step(str(item.path))
    progress.close()
    text = json.dumps(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {len(results)} detections for {len(items)} inputs to {args.out}", file=sys.stderr)
    else:
        print(text)
    return EXIT_PARTIAL if failures else EXIT_OK
