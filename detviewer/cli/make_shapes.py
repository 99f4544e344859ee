"""``detviewer make-shapes OUT_DIR --count N --seed S [--size 320] [--format coco|yolo|voc]``: a toy dataset.

Writes N images (shapes on cluttered, noisy backgrounds) and their annotations as COCO
(``OUT_DIR/annotations.json``), YOLO (``images/``, ``labels/``, ``data.yaml``) or Pascal VOC
(``JPEGImages/``, ``Annotations/``); the same seed always gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detviewer.datasets.shapes import SHAPE_CLASSES
from detviewer.datasets.writer import LAYOUTS
from detviewer.errors import DetviewerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=f"Generate a synthetic shapes detection dataset ({', '.join(SHAPE_CLASSES)}) with COCO, YOLO "
                    "or Pascal VOC annotations.",
        epilog="example: detviewer make-shapes shapes/ --count 200 --seed 7 --format yolo")
    parser.add_argument("out_dir", type=Path, help="folder to write images and annotations.json into")
    parser.add_argument("--count", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same images)")
    parser.add_argument("--size", type=int, default=320, help="image side in pixels (default 320)")
    parser.add_argument("--format", choices=LAYOUTS + ("png", "jpg"), default="coco",
                        help="annotation layout: coco (annotations.json), yolo (images/, labels/, data.yaml) or voc "
                             "(JPEGImages/, Annotations/); default coco. 'png' / 'jpg' (the old image-format "
                             "values) still mean coco with that image format")
    parser.add_argument("--image-format", choices=("png", "jpg"), default=None, help="image file format (default png)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def run(args: argparse.Namespace) -> int:
    from detviewer.datasets.shapes import ShapesConfig
    from detviewer.datasets.writer import write_dataset

    if args.count < 1:
        print(f"error: --count must be at least 1, got {args.count}", file=sys.stderr)
        return 2
    if not 64 <= args.size <= 4096:
        print(f"error: --size must be between 64 and 4096 pixels, got {args.size}", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 50 == 0):
            print(f"\r{done}/{total} images", end="\n" if done == total else "", file=sys.stderr, flush=True)

    layout = args.format if args.format in LAYOUTS else "coco"
    image_format = args.image_format or (args.format if args.format in ("png", "jpg") else "png")
    try:
        path = write_dataset(args.out_dir, args.count, args.seed, ShapesConfig(size=args.size), image_format,
                             progress, layout=layout)
    except DetviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.count} images and {path} ({layout})")
    return 0
