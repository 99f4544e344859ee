"""How much slower is ``nms_trace`` than the torchvision op it replays?

Prints, for 10k clustered candidate boxes, the median time of ``nms_trace`` and of
``torchvision.ops.batched_nms`` (class-aware) / ``nms`` (class-agnostic), measured in the same
process on the same input, calls alternating, and their ratio (target: <= 3), in wall time and
in CPU time. Run:

    .venv/bin/python bench/bench_nms.py [--repeat 21] [--threads N] [--soft]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
import torchvision

from detviewer.ops.nms import nms_trace


def clustered_boxes(n_clusters=500, per_cluster=20, n_classes=20, seed=0, width=1333, height=800,
                    label_mode="cluster"):
    """Detector-like candidates: per cluster, jittered copies of one box with random scores.

    label_mode "cluster": one class per cluster with 20 % of the boxes relabelled at random
    (a detector's per-class scores); "random": every box gets a random class.
    Returns boxes (N, 4) float32 xyxy, scores (N,) float32, labels (N,) int64.
    """
    rng = np.random.default_rng(seed)
    centre = rng.uniform([0, 0], [width, height], size=(n_clusters, 2))
    size = rng.uniform(16, 200, size=(n_clusters, 2))
    centre = np.repeat(centre, per_cluster, 0)
    size = np.repeat(size, per_cluster, 0)
    centre = centre + rng.normal(0, 0.1, centre.shape) * size
    size = size * rng.uniform(0.8, 1.25, size.shape)
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
    scores = rng.uniform(0.05, 1.0, len(boxes)).astype(np.float32)
    if label_mode == "cluster":
        labels = np.repeat(rng.integers(0, n_classes, n_clusters), per_cluster)
        relabel = rng.random(len(labels)) < 0.2
        labels[relabel] = rng.integers(0, n_classes, int(relabel.sum()))
    else:
        labels = rng.integers(0, n_classes, len(boxes))
    return boxes, scores, labels.astype(np.int64)


def median_ms(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    return paired_ms([fn], repeat)[0][0]


def paired_ms(fns, repeat: int):
    """Call each of ``fns`` in turn, ``repeat`` rounds, so that load from other processes hits
    them alike. Returns [(median wall ms, median CPU ms)] per function (CPU = process time,
    which a busy machine inflates less)."""
    for fn in fns:
        fn()  # warm-up
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
    return [(statistics.median(w) * 1e3, statistics.median(c) * 1e3) for w, c in zip(wall, cpu)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--soft", action="store_true", help="also time Soft-NMS (no torchvision reference)")
    parser.add_argument("--clusters", type=int, default=500, help="clusters of 20 candidates")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeat, args.soft, args.clusters = 1, True, 20
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} torch threads")
    print(f"{'case':38s} {'boxes':>6s} {'kept':>5s} {'torchvision ms':>14s} {'trace ms':>9s} {'ratio':>6s}"
          f" {'ratio (CPU time)':>17s}")
    worst = 0.0
    for label_mode in ("cluster", "random"):
        boxes, scores, labels = clustered_boxes(n_clusters=args.clusters, label_mode=label_mode)
        tb, ts, tl = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels)
        for agnostic in (False, True):
            if agnostic and label_mode == "random":
                continue  # labels do not matter there
            if agnostic:
                ref = lambda: torchvision.ops.nms(tb, ts, 0.5)  # noqa: E731
            else:
                ref = lambda: torchvision.ops.batched_nms(tb, ts, tl, 0.5)  # noqa: E731
            trace = lambda: nms_trace(boxes, scores, labels, iou_threshold=0.5, class_agnostic=agnostic)  # noqa: E731
            assert np.array_equal(trace().keep, ref().numpy()), "trace.keep differs from torchvision"
            (r, r_cpu), (t, t_cpu) = paired_ms([ref, trace], args.repeat)
            worst = max(worst, t / r)
            name = f"{'class-agnostic' if agnostic else '20 classes'}, labels per {label_mode}"
            print(f"{name:38s} {len(boxes):6d} {len(ref()):5d} {r:14.1f} {t:9.1f} {t / r:6.2f} {t_cpu / r_cpu:17.2f}")
        if args.soft and label_mode == "cluster":
            for method in ("linear", "gaussian"):
                for agnostic in (False, True):
                    t = median_ms(lambda: nms_trace(boxes, scores, labels, iou_threshold=0.5, method=method,
                                                    score_threshold=0.05, class_agnostic=agnostic), 3)
                    name = f"soft {method}, {'class-agnostic' if agnostic else '20 classes'}"
                    print(f"{name:38s} {len(boxes):6d} {'':5s} {'':14s} {t:9.1f}")
    print(f"worst ratio trace / torchvision: {worst:.2f} (target <= 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
