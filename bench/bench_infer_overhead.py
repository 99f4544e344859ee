"""Per-frame cost of detviewer's adapter over the model's own forward: Detector.infer ÷ bare forward.

Interleaved pairs (infer, forward, infer, forward, …) on the same 640×480 image with one torch thread, so
that a busy machine slows both alike; prints the median of each and their ratio (goal: ≤ 1.05).

Usage: .venv/bin/python bench/bench_infer_overhead.py [--models demo-ssd,demo-frcnn,…] [--pairs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from detviewer.detectors.registry import load_detector

DEFAULT = "demo-frcnn,demo-ssd,ssdlite320_mobilenet_v3_large,ssd300_vgg16,retinanet_resnet50_fpn,fasterrcnn_resnet50_fpn"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def measure(name: str, image: np.ndarray, pairs: int) -> tuple[float, float]:
    torch.manual_seed(0)
    weights = "default" if name.startswith("demo-") else "none"
    detector = load_detector(name, weights=weights, device="cpu")
    model = detector.model
    tensor = torch.from_numpy(image).permute(2, 0, 1).float().div(255)

    def bare():
        with torch.inference_mode():
            model([tensor])

    detector.infer(image)
    bare()
    infer_ms, bare_ms = [], []
    for _ in range(pairs):
        infer_ms.append(_timed(lambda: detector.infer(image)))
        bare_ms.append(_timed(bare))
    return statistics.median(infer_ms), statistics.median(bare_ms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=DEFAULT)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.models, args.pairs = "demo-ssd", 1
    torch.set_num_threads(1)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    print(f"torch {torch.__version__}, 1 thread, 640x480, median of {args.pairs} interleaved pairs")
    print(f"{'model':38s} {'infer ms':>9s} {'forward ms':>10s} {'ratio':>6s}")
    for name in args.models.split(","):
        infer_ms, bare_ms = measure(name, image, args.pairs)
        print(f"{name:38s} {infer_ms:9.1f} {bare_ms:10.1f} {infer_ms / bare_ms:6.3f}", flush=True)


if __name__ == "__main__":
    main()
