"""Benchmark: the classic detectors (detectors/classic.py) on the shipped photographs.

For each detector and photo, the median of ``--repeat`` runs of ``detector.infer`` (the scan, which for HOG
includes scoring every window of every scale for the heat maps, and the grouping), with what it found: raw
windows, positions over the pyramid, detections. Also OpenCV's own call alone (the cascade's detectMultiScale
with minNeighbors 3; HOG's detectMultiScale with group threshold 2), to show what capturing the internals costs.
This 2-core machine is shared: the numbers are medians and noisy.

    .venv/bin/python bench/bench_classic.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2

from detviewer.detectors.registry import load_detector
from detviewer.io.images import load_image
from detviewer.resources import sample_photos

MODELS = ("haar-frontalface", "haar-catface", "hog-people")


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _opencv_alone(detector, image):
    if detector.method == "haar":
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return lambda: detector.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3)
    return lambda: detector.hog.detectMultiScale(image, 0.0, (8, 8), (0, 0), 1.05, 2, False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--photos", type=int, default=0, help="only the first N sample photographs (0: all)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.repeat, args.photos = 1, 1
    print(f"{'model':18} {'photo':14} {'infer ms':>9} {'OpenCV ms':>10} {'raw':>5} {'positions':>10} {'found':>5}")
    for name in MODELS:
        detector = load_detector(name, device="cpu")
        for path in sample_photos()[:args.photos or None]:
            image = load_image(path)
            inference = detector.infer(image)
            ms = _median_ms(lambda: detector.infer(image), args.repeat)
            alone = _median_ms(_opencv_alone(detector, image), args.repeat)
            trace = inference.classic
            print(f"{name:18} {path.name:14} {ms:9.1f} {alone:10.1f} {trace.raw_count:5d} {trace.positions:10,d} "
                  f"{len(inference.detections):5d}")


if __name__ == "__main__":
    main()
