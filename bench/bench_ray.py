"""Benchmark: a dataset run on a local Ray cluster against the same run in this process.

Starts a Ray head on 127.0.0.1 (stopped by its own pid), generates a shapes dataset, and runs ``demo-ssd`` (or
``--model``) over it, without the prediction store, in three ways: here (``run_dataset``, 1 torch thread), and on
the cluster with 1 and 2 actors (``run_dataset_on_cluster``, 1 torch thread each). Prints images/s of each, the
cluster's per-image overhead (its seconds per image minus the local run's, at one actor), and the time to start the
actors (joining and loading the model once per actor, paid once per run).

    .venv/bin/python bench/bench_ray.py [--images 200] [--model demo-ssd] [--smoke]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--model", default="demo-ssd")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes: checks that the bench runs")
    args = parser.parse_args()
    images = 6 if args.smoke else args.images
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("Ray is not installed (pip install 'detviewer[ray]'): nothing to measure.")
        return 0
    from detviewer.detectors.registry import load_detector
    from detviewer.detectors.threads import configure_torch_threads
    from detviewer.evaluation.ray_cluster import connect, disconnect
    from detviewer.evaluation.ray_dataset import run_dataset_on_cluster
    from detviewer.evaluation.run_dataset import run_dataset
    from detviewer.io.datasets import open_dataset
    from tests.evaluation.ray_fixtures import start_local_cluster

    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    subprocess.run([sys.executable, "-m", "detviewer", "make-shapes", str(folder), "--count", str(images),
                    "--seed", "5", "--quiet"], check=True)
    dataset = open_dataset(folder)
    configure_torch_threads(1)
    detector = load_detector(args.model, device="cpu")
    run_dataset(detector, dataset, None)  # warm-up: first-call costs out of the way
    local = run_dataset(detector, dataset, None)
    local_rate = dataset.num_images / local.seconds
    print(f"{args.model}, {dataset.num_images} images, CPU, 1 torch thread per model")
    print(f"  here (run_dataset):        {local_rate:7.2f} images/s")
    cluster = start_local_cluster(num_cpus=2)
    try:
        address = connect("auto")
        factory = partial(load_detector, args.model, device="cpu")
        for workers in (1, 2):
            start = time.perf_counter()
            run, figures = run_dataset_on_cluster(detector, dataset, None, factory, address=address, device="cpu",
                                                  workers=workers)
            total = time.perf_counter() - start
            assert figures is not None and not run.failures, run.failures
            steady = figures.steady_images_per_second
            print(f"  Ray, {workers} actor{'s' if workers > 1 else ' '}:             {steady:7.2f} images/s "
                  f"after the first answer ({figures.first_answer_s:.1f} s to start the "
                  f"actors; whole call {total:.1f} s); ratio to here {steady / local_rate:.2f}")
            if workers == 1:
                overhead_ms = (1 / steady - 1 / local_rate) * 1000
                print(f"  per-image overhead of the cluster path (1 actor): {overhead_ms:+.1f} ms")
        disconnect()
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
