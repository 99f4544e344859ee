"""A dataset run's images/s ÷ the bare forward's images/s (goal ≥ 0.95): what reading, hashing, decoding and
storing cost on top of the model, once the prefetch thread overlaps them with the forward.

bare forward: ``detector.infer`` over the images already decoded in memory (the model's own cost, its
preprocessing included). dataset run: ``run_dataset`` over the same files, (a) without a store, (b) into a
fresh prediction store (every image computed and written, one transaction each), and for reference (c) the
loop without prefetch (hash, decode, infer one image after the other, as before the prefetch thread). One
torch thread. The four are interleaved ``--rounds`` times so that a busy machine slows each alike; medians are printed. Also
printed: the share of the run's wall time spent inside ``infer`` (what is left is the run's own work that
did not overlap the forward: waiting for the next image, storing, bookkeeping). On a machine with fewer free
cores than 2 the prefetch thread competes with the forward for a core and the ratio reflects that machine.
Images: ``detviewer make-shapes`` (320×320 PNG).

``--model sleep:MS`` replaces the model by one whose forward waits MS milliseconds without using the CPU (as a
GPU forward leaves the CPU free): the ratio then shows how well the run overlaps its own work with the forward,
independently of how busy the machine's cores are.

Usage: .venv/bin/python bench/bench_dataset_run_overhead.py [--model demo-ssd|sleep:25] [--images 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from detviewer.cli import main as cli
from detviewer.core.run_info import RunInfo
from detviewer.detectors.registry import load_detector
from detviewer.evaluation.run_dataset import run_dataset
from detviewer.io.content_hash import content_hash
from detviewer.io.datasets import open_dataset
from detviewer.io.images import load_image
from detviewer.io.prediction_store import PredictionStore


class Sleeper:
    """A stand-in model whose forward takes ``ms`` milliseconds of wall time and no CPU (the GIL released)."""

    from detviewer.datasets.shapes import SHAPE_CLASSES

    name, class_names, weights = "sleep", ("__background__", *SHAPE_CLASSES), "none"

    def __init__(self, ms: float):
        from detviewer.core.types import NMSParams

        self.seconds, self.nms = ms / 1000, NMSParams()

    def infer(self, image):
        from detviewer.core.types import Detections, Inference

        time.sleep(self.seconds)
        return Inference(self.name, image.shape[:2], Detections.empty(self.class_names),
                         Detections.empty(self.class_names))


class Timed:
    """The detector, with the seconds spent in its ``infer`` added up."""

    def __init__(self, detector):
        self.detector, self.seconds = detector, 0.0
        self.name, self.class_names, self.weights = detector.name, detector.class_names, detector.weights
        self.nms = detector.nms

    def infer(self, image):
        start = time.perf_counter()
        try:
            return self.detector.infer(image)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="demo-ssd")
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, no numbers to read (tests/test_bench_smoke.py; also "
                             "DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.images, args.rounds = 4, 1
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shapes"
        cli(["make-shapes", str(root), "--count", str(args.images), "--seed", "11", "--quiet"])
        dataset = open_dataset(root)
        if args.model.startswith("sleep:"):
            detector = Sleeper(float(args.model.split(":", 1)[1]))
        else:
            detector = load_detector(args.model, device="cpu")
        images = [load_image(p) for p in dataset.image_paths]
        for image in images[:3]:
            detector.infer(image)
        bare, plain, stored, inside, serial = [], [], [], [], []
        for r in range(args.rounds):
            start = time.perf_counter()
            for image in images:
                detector.infer(image)
            bare.append(len(images) / (time.perf_counter() - start))
            start = time.perf_counter()
            run = run_dataset(detector, dataset, None)
            plain.append(run.computed / (time.perf_counter() - start))
            timed = Timed(detector)
            start = time.perf_counter()
            run = run_dataset(timed, dataset, PredictionStore.open(Path(tmp) / f"store{r}"),
                              run_info=RunInfo(args.model, "bench", "default", str(root)))
            wall = time.perf_counter() - start
            stored.append(run.computed / wall)
            inside.append(timed.seconds / wall)
            start = time.perf_counter()
            for path in dataset.image_paths:
                content_hash(path)
                detector.infer(load_image(path))
            serial.append(len(images) / (time.perf_counter() - start))
            assert run.computed == len(images) and not run.warnings, run.warnings
        b, p, s, q = (statistics.median(v) for v in (bare, plain, stored, serial))
        print(f"{args.model}, {len(images)} make-shapes images 320x320 PNG, torch {torch.__version__}, 1 thread, "
              f"median of {args.rounds} interleaved rounds")
        print(f"bare forward (decoded images)  {b:7.1f} images/s")
        print(f"dataset run, no store          {p:7.1f} images/s   ratio {p / b:.3f}")
        print(f"dataset run, fresh store       {s:7.1f} images/s   ratio {s / b:.3f}")
        print(f"no prefetch (reference)        {q:7.1f} images/s   ratio {q / b:.3f}")
        print(f"share of the stored run's wall time inside infer: {statistics.median(inside):.3f}")
        print(f"spread (min..max images/s): bare {min(bare):.1f}..{max(bare):.1f}, no store {min(plain):.1f}..{max(plain):.1f}, store {min(stored):.1f}..{max(stored):.1f}, "
              f"no prefetch {min(serial):.1f}..{max(serial):.1f}")


if __name__ == "__main__":
    main()
