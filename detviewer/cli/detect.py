"""`detviewer detect`: run a detector on images, folders and videos; write COCO results JSON.

Every input (each image, each video frame) gets an image id in input order, failed ones too: folders
expand to their images in natural order, videos to their frames, and the n-th of these is id n. The
id -> file mapping is written as COCO ``images`` (``{"images": [{"id", "file_name"[, "frame"][, "error"]}]}``)
to ``--images-out``, or beside ``--out`` as ``<out>.images.json``, with the category id -> name map as COCO
``categories``; every result row carries its ``category_name`` too, so ``eval`` and ``compare`` match classes by
name. With ``--gt`` (any ground truth ``eval`` takes: COCO .json, data.yaml, a YOLO or VOC folder) the image ids
and categories are the ground truth's instead. ``--shard I/N`` runs only the inputs whose position is I modulo N (ids
stay those of the whole list), so that N machines can share a dataset and ``merge-results`` joins them; or
``--ray ADDRESS`` runs the images on a Ray cluster's actors (evaluation.ray_run) and writes the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detviewer.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from detviewer.cli.dataset_run import add_run_arguments
from detviewer.errors import AnnotationError, DetviewerError

if TYPE_CHECKING:
    from detviewer.core.types import Detections


@dataclass(frozen=True)
class WorkItem:
    """One input: an image, or one frame of a video (frame None: the whole video, when it cannot be opened)."""

    path: Path
    is_video: bool
    frame: int | None = None

    @property
    def name(self) -> str:
        return f"{self.path}#{self.frame}" if self.frame is not None else str(self.path)


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not I/N (e.g. 0/4)") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"'{text}': I/N needs 0 <= I < N")
    return index, count


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run a detector on images, folders or videos and write COCO results.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or video files")
    p.add_argument("--model", required=True, help="detector name (see 'detviewer models')")
    p.add_argument("--weights", default="default", help="coco, none, default or a checkpoint path")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--score", type=float, default=0.0, help="drop detections scoring below this")
    p.add_argument("--gt", type=Path, help="ground truth (COCO .json, data.yaml, or a YOLO / VOC folder): take "
                                           "image_id and category_id from it")
    p.add_argument("--out", type=Path, help="results file (default: standard output)")
    p.add_argument("--images-out", type=Path, help="where to write the image id -> file mapping "
                                                   "(default: <out>.images.json beside --out)")
    p.add_argument("--shard", type=_shard, metavar="I/N", help="run only inputs I, I+N, I+2N, ... (0-based)")
    p.add_argument("--threads", type=int, help="torch threads (default: the window's policy: cores - 1, "
                                               "or DETVIEWER_THREADS)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_arguments(p)
    return p


def expand_inputs(inputs: list[str]) -> tuple[list[WorkItem], list[str]]:
    """Images, folders (their images, naturally sorted) and videos (one item per frame) -> work items,
    plus error lines for inputs that are not there at all."""
    from detviewer.io.images import is_image_path, list_images
    from detviewer.io.frames import is_video_path

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
            items.extend(_video_frames(path))
        elif is_image_path(path):
            items.append(WorkItem(path, False))
        else:
            errors.append(f"{path}: not an image or video file detviewer knows ({path.suffix or 'no extension'})")
    return items, errors


def _video_frames(path: Path) -> list[WorkItem]:
    """One item per frame (the frame count from the container), or one item that will fail."""
    from detviewer.io.streams import VideoFileSource

    try:
        video = VideoFileSource(path)
    except DetviewerError:
        return [WorkItem(path, True)]
    try:
        count = len(video)
    finally:
        video.close()
    return [WorkItem(path, True, f) for f in range(count)] or [WorkItem(path, True)]


def _image(item: WorkItem, videos: dict):
    """The RGB image of an item; videos stay open between their frames."""
    if not item.is_video:
        from detviewer.io.images import load_image

        return load_image(item.path)
    from detviewer.io.streams import VideoFileSource

    if item.path not in videos:
        for old in videos.values():
            old.close()
        videos.clear()
        videos[item.path] = VideoFileSource(item.path)
    if item.frame is None:
        raise DetviewerError(f"Video {item.path} has no frames.")
    return videos[item.path].read(item.frame).image


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


def _ids(items: list[WorkItem], dataset) -> list[int | None]:
    """Image id of every item: its position + 1, or the ground truth's id (None: not in the GT): the dataset's
    own image at that path, else a GT file_name that matches it (``match_image_ids``)."""
    if dataset is None:
        return list(range(1, len(items) + 1))
    from detviewer.io.annotations import match_image_ids

    gt = dataset.gt
    images = sorted({item.path for item in items if not item.is_video})
    known = {p: dataset.image_index(p) for p in images}
    rest = [p for p in images if known[p] is None]
    by_path = {p: int(gt.image_ids[i]) for p, i in known.items() if i is not None}
    by_path.update(zip(rest, match_image_ids(rest, gt, allow_missing=True, image_roots=(dataset.root,))))
    return [None if item.is_video else by_path[item.path] for item in items]


def _mapping_entry(item: WorkItem, image_id: int | None, error: str = "") -> dict:
    entry = {"id": image_id, "file_name": str(item.path)}
    if item.frame is not None:
        entry["frame"] = item.frame
    if error:
        entry["error"] = error
    return entry


def run(args) -> int:
    from detviewer.io.annotations import category_ids_by_name
    from detviewer.io.coco_results import coco_results_from_detections
    from detviewer.io.datasets import open_dataset

    items, errors = expand_inputs(args.inputs)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if not items:
        print("error: nothing to run on", file=sys.stderr)
        return EXIT_USAGE
    dataset = open_dataset(args.gt) if args.gt else None
    gt = dataset.gt if dataset is not None else None
    ids = _ids(items, dataset)
    chosen = range(len(items)) if args.shard is None else range(args.shard[0], len(items), args.shard[1])

    from detviewer.detectors.registry import load_detector
    from detviewer.detectors.threads import configure_torch_threads

    threads = configure_torch_threads(args.threads)
    detector = load_detector(args.model, weights=args.weights, device=args.device)
    label_to_category = None
    if gt is not None:
        label_to_category = category_ids_by_name(detector.class_names, gt)
        if not label_to_category:
            raise AnnotationError(f"None of {args.model}'s classes is a category of {args.gt}.")
        names = {int(c): n for c, n in zip(gt.category_ids.tolist(), gt.category_names)}
    else:
        names = {label: n for label, n in enumerate(detector.class_names) if n and n != "__background__"}
    results: list[dict] = []
    mapping: list[dict] = []
    failures = len(errors)
    progress = Progress(len(chosen), not args.quiet)
    videos: dict = {}
    infer_seconds, start, done = 0.0, time.perf_counter(), 0
    answers = _on_cluster(args, items, [i for i in chosen if ids[i] is not None]) if args.ray else None
    try:
        for i in chosen:
            item, image_id = items[i], ids[i]
            try:
                if image_id is None:
                    raise AnnotationError(f"{item.path} is not an image of {args.gt} (no file_name matches it).")
                if answers is not None:
                    detections = answers[i]
                else:
                    image = _image(item, videos)
                    t0 = time.perf_counter()
                    detections = detector.infer(image).detections
                    infer_seconds += time.perf_counter() - t0
                done += 1
                detections = detections[detections.scores >= args.score]
                results.extend(coco_results_from_detections(image_id, detections, label_to_category, names))
                mapping.append(_mapping_entry(item, image_id))
            except DetviewerError as exc:
                failures += 1
                progress.message(f"error: {exc}")
                mapping.append(_mapping_entry(item, image_id, str(exc)))
            progress.step(item.name)
    finally:
        for video in videos.values():
            video.close()
    progress.close()
    wall = time.perf_counter() - start
    _write_outputs(args, results, mapping, len(chosen), [{"id": c, "name": n} for c, n in names.items()])
    rate = done / wall if wall > 0 else 0.0
    print(f"{done} of {len(chosen)} images in {wall:.1f} s: {rate:.2f} images/s "
          f"({done / infer_seconds if infer_seconds else 0:.2f}/s in the model; {threads} torch thread"
          f"{'s' if threads != 1 else ''})", file=sys.stderr)
    return EXIT_PARTIAL if failures else EXIT_OK


def _on_cluster(args, items: list[WorkItem], chosen: list[int]) -> dict[int, Detections]:
    """Each chosen image's detections from the Ray cluster at ``args.ray`` (``--ray``); an image the model failed
    on holds its DetviewerError, raised when the loop reaches it. Video frames are refused: the cluster takes
    image files."""
    import contextlib
    import os
    from functools import partial

    from detviewer.detectors.registry import load_detector
    from detviewer.evaluation.ray_cluster import connect, disconnect
    from detviewer.evaluation.ray_run import run_on_cluster

    if any(items[i].is_video for i in chosen):
        raise DetviewerError("--ray runs image files; run videos without --ray.")
    answers: dict[int, Any] = {}

    def on_answer(index: int, inference: Any, error: str | None) -> None:
        answers[index] = inference.detections if inference is not None else DetviewerError(error or "no answer")

    factory = partial(load_detector, args.model, weights=args.weights, device=args.device)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # Ray prints worker failures on stdout
        address = connect(args.ray)
        try:
            run = run_on_cluster(factory, [(i, items[i].path) for i in chosen], on_answer, address=address,
                                 device=args.device, workers=args.ray_workers)
        finally:
            disconnect()
    print(f"on the Ray cluster at {address}: {run.workers} workers, {run.answered} images answered in "
          f"{run.seconds:.1f} s", file=sys.stderr)
    return _RaisingAnswers(answers)


class _RaisingAnswers(dict):  # type: ignore[type-arg]
    """index -> Detections; an answer that is an error raises it when read."""

    def __getitem__(self, index: int) -> Any:
        value = super().__getitem__(index)
        if isinstance(value, DetviewerError):
            raise value
        return value


def _write_outputs(args, results: list[dict], mapping: list[dict], count: int, categories: list[dict]) -> None:
    from detviewer.io.atomic import write_text

    text = json.dumps(results)
    images_out = args.images_out
    if args.out:
        from detviewer.io.predictions import mapping_path

        write_text(args.out, text)
        print(f"wrote {len(results)} detections for {count} inputs to {args.out}", file=sys.stderr)
        images_out = images_out or mapping_path(args.out)
    else:
        print(text)
    if images_out:
        write_text(images_out, json.dumps({"images": mapping, "categories": categories}, indent=0))
        print(f"wrote the image id -> file mapping to {images_out}", file=sys.stderr)
