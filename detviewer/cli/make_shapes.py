"""``detviewer make-shapes OUT_DIR --count N --seed S [--size 320]``: generate a toy detection dataset.

Writes N images (shapes on cluttered, noisy backgrounds) and their COCO annotations
(``OUT_DIR/annotations.json``); the same seed always gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detviewer.datasets.shapes import SHAPE_CLASSES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=f"Generate a synthetic shapes detection dataset ({', '.join(SHAPE_CLASSES)}) with COCO annotations.",
        epilog="example: detviewer make-shapes shapes/ --count 200 --seed 7")
    parser.add_argument("out_dir", type=Path, help="folder to write images and annotations.json into")
    parser.add_argument("--count", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same images)")
    parser.add_argument("--size", type=int, default=320, help="image side in pixels (default 320)")
    parser.add_argument("--format", choices=("png", "jpg"), default="png", help="image file format")
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

    path = write_dataset(args.out_dir, args.count, args.seed, ShapesConfig(size=args.size), args.format, progress)
    print(f"wrote {args.count} images and {path}")
    return 0
