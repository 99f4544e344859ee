"""``detviewer train-demo MODEL --out models/MODEL.pt``: train one demo detector on generated shapes.

Reproducible from ``--seed``; prints a progress line (iterations, loss, images/s), evaluates a
validation split periodically and the held-out test split at the end, then records the model in
the manifest next to the checkpoint.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from detviewer.detectors.demo import DEMO_MODELS

EXAMPLE = "detviewer train-demo demo-frcnn --out models/demo-frcnn.pt --seed 1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train a demo detector on synthetic shapes (CPU is fine).",
                                     epilog=f"example: {EXAMPLE}")
    parser.add_argument("model", choices=sorted(DEMO_MODELS), help="which demo detector to train")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write (.pt)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the initialisation and the training scenes")
    parser.add_argument("--iterations", type=int, help="training iterations (default: per model)")
    parser.add_argument("--batch-size", type=int, help="images per iteration (default: per model)")
    parser.add_argument("--lr", type=float, help="AdamW base learning rate (default: per model)")
    parser.add_argument("--eval-every", type=int, default=500, help="validate every N iterations")
    parser.add_argument("--val-count", type=int, default=100, help="validation images (seed 2001)")
    parser.add_argument("--test-count", type=int, default=300, help="held-out test images (seed 1001)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering training scenes ahead (0: none)")
    parser.add_argument("--backbone-from", type=Path, help="demo-yolo: start from this demo-frcnn checkpoint's backbone")
    parser.add_argument("--freeze-backbone", action="store_true", help="with --backbone-from: keep those layers fixed")
    parser.add_argument("--no-manifest", action="store_true", help="do not update manifest.json next to --out")
    return parser


def run(args: argparse.Namespace) -> int:
    from detviewer.training.loop import DEFAULTS, TrainConfig, train
    from detviewer.training.manifest import update_manifest

    settings = dict(DEFAULTS[args.model])
    for key in ("iterations", "batch_size", "lr"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    cfg = TrainConfig(arch=args.model, out=args.out, seed=args.seed, eval_every=args.eval_every,
                      val_count=args.val_count, test_count=args.test_count, threads=args.threads, workers=args.workers,
                      backbone_from=str(args.backbone_from) if args.backbone_from else None,
                      freeze_backbone=args.freeze_backbone, **settings)
    command = ["detviewer", "train-demo", args.model, "--out", str(args.out), "--seed", str(args.seed)]
    for key, value in settings.items():  # always spelled out, so the command survives new defaults
        command += [f"--{key.replace('_', '-')}", str(value)]
    for flag, value, default in (("--eval-every", args.eval_every, 500), ("--val-count", args.val_count, 100),
                                 ("--test-count", args.test_count, 300), ("--threads", args.threads, 2)):
        if value != default:
            command += [flag, str(value)]
    if args.backbone_from:
        command += ["--backbone-from", str(args.backbone_from)]
    if args.freeze_backbone:
        command += ["--freeze-backbone"]
    meta = train(cfg, log=lambda line: print(line, flush=True))
    if not args.no_manifest:
        manifest = update_manifest(args.out, args.model, meta, shlex.join(command))
        print(f"updated {manifest}", file=sys.stderr)
    return 0
