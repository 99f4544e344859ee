"""Per-image CPU latency of `detviewer detect` for each detector (random weights: same cost as trained).

Usage: .venv/bin/python bench/bench_detect.py [--models a,b] [--runs 3] [--size 640x480] [--threads N]
Prints, per model, the median total and per-stage milliseconds of Detector.infer and the ratio of
the adapter's infer time to the bare model forward on the same input (the hooks' overhead).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from detviewer.detectors.registry import MODELS, load_detector

TORCHVISION_MODELS = [m.name for m in MODELS.values() if m.default_weights == "coco"]


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(TORCHVISION_MODELS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.models, args.runs, args.size, args.threads = "ssdlite320_mobilenet_v3_large", 1, "160x120", 1
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, image {width}x{height}, "
          f"median of {args.runs} runs")
    print(f"{'model':40s} {'infer ms':>9s} {'bare ms':>8s} {'ratio':>6s}  stages")
    for name in args.models.split(","):
        torch.manual_seed(0)
        weights = "none" if name in TORCHVISION_MODELS else "default"
        detector = load_detector(name, weights=weights, device="cpu")
        detector.infer(image)  # warm-up
        inferences = []
        infer_ms = _median_ms(lambda: inferences.append(detector.infer(image)), args.runs)
        tensor = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
        model = getattr(detector, "model", None)
        if model is not None:
            with torch.inference_mode():
                bare_ms = _median_ms(lambda: model([tensor]), args.runs)
        else:
            bare_ms = float("nan")
        stages = inferences[-1].timings
        stage_text = " ".join(f"{k}={v:.0f}" for k, v in stages.items() if k != "total")
        print(f"{name:40s} {infer_ms:9.1f} {bare_ms:8.1f} {infer_ms / bare_ms:6.3f}  {stage_text}", flush=True)


if __name__ == "__main__":
    main()
