"""Benchmark: the paired bootstrap of ΔAP (``evaluation.bootstrap``) that ``detviewer compare`` prints.

Synthetic COCO-like data built in memory: ``--images`` images (5,000), 80 classes, ~7 objects per image (1 %
crowd), and two sides A and B of ``--dets-per-image`` detections each (jittered objects, some with the wrong
class, plus background boxes; B's boxes are a little tighter). Prints the engine's COCO evaluation of both
sides, the one-off precompute (matching both sides once) and ``--resamples`` paired resamples (1,000), best of
``--repeat``, with the interval; then, for ``--naive`` resamples (3), the way without the precompute: build the
resampled dataset (each drawn image copied, the copies side by side) and evaluate A and B with the engine, its
time per resample and its largest difference from the bootstrap's ΔAP.

    .venv/bin/python bench/bench_bootstrap.py [--images 5000] [--dets-per-image 15] [--resamples 1000] [--naive 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from detviewer.core.metrics import DetectionBoxes, GroundTruthBoxes
from detviewer.evaluation.bootstrap import SideTable, paired_bootstrap, resample_weights
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation

NUM_CLASSES = 80
WIDTH, HEIGHT = 640.0, 480.0


def ground_truth(rng, num_images: int) -> GroundTruthBoxes:
    counts = rng.poisson(7, num_images)
    n = int(counts.sum())
    wh = np.minimum(np.exp(rng.uniform(np.log(6), np.log(400), (n, 2))), [WIDTH - 1, HEIGHT - 1])
    xy = rng.uniform(0, 1, (n, 2)) * ([WIDTH, HEIGHT] - wh)
    xywh = np.round(np.concatenate([xy, wh], axis=1), 2)
    return GroundTruthBoxes(image_index=np.repeat(np.arange(num_images), counts),
                            category_index=rng.integers(0, NUM_CLASSES, n), xywh=xywh,
                            area=np.round(wh.prod(axis=1) * rng.uniform(0.6, 0.9, n), 2),
                            crowd=rng.random(n) < 0.01, difficult=np.zeros(n, bool), ids=np.arange(1, n + 1))


def detections(rng, gt: GroundTruthBoxes, num_images: int, per_image: int, jitter: float) -> DetectionBoxes:
    """Two jittered copies of each object (a duplicate), 10 % with a wrong class, then background boxes up to
    ``per_image`` per image; scores rounded to 3 decimals so that ties occur."""
    found = np.repeat(np.arange(len(gt)), 2)
    x, y, w, h = gt.xywh[found].T
    box = np.stack([x + rng.normal(0, jitter, len(found)) * w, y + rng.normal(0, jitter, len(found)) * h,
                    w * np.exp(rng.normal(0, 1.5 * jitter, len(found))),
                    h * np.exp(rng.normal(0, 1.5 * jitter, len(found)))], axis=1)
    cls = np.where(rng.random(len(found)) < 0.1, rng.integers(0, NUM_CLASSES, len(found)), gt.category_index[found])
    background = np.maximum(per_image - 2 * np.bincount(gt.image_index, minlength=num_images), 0)
    nb = int(background.sum())
    wh = np.exp(rng.uniform(np.log(6), np.log(300), (nb, 2)))
    bg = np.concatenate([rng.uniform(0, 1, (nb, 2)) * ([WIDTH, HEIGHT] - wh), wh], axis=1)
    image = np.r_[gt.image_index[found], np.repeat(np.arange(num_images), background)]
    scores = np.round(np.r_[rng.beta(5, 2, len(found)), rng.beta(2, 5, nb)], 3)
    return DetectionBoxes(image_index=image, category_index=np.r_[cls, rng.integers(0, NUM_CLASSES, nb)],
                          xywh=np.round(np.concatenate([box, bg]), 2), scores=scores)


def _copies(image: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes kept, each one's image in the resampled dataset): box j repeated weights[image[j]] times, copy c of
    image i being image offset[i] + c."""
    reps = weights[image]
    keep = np.repeat(np.arange(len(image)), reps)
    copy = np.arange(len(keep)) - np.repeat(np.cumsum(reps) - reps, reps)
    offset = np.cumsum(weights) - weights
    return keep, offset[image[keep]] + copy


def resampled(gt: GroundTruthBoxes, dt: DetectionBoxes, weights: np.ndarray, names) -> DatasetEvaluation:
    g, g_img = _copies(gt.image_index, weights)
    d, d_img = _copies(dt.image_index, weights)
    new_gt = GroundTruthBoxes(image_index=g_img, category_index=gt.category_index[g], xywh=gt.xywh[g], area=gt.area[g],
                              crowd=gt.crowd[g], difficult=gt.difficult[g], ids=np.arange(1, len(g) + 1))
    new_dt = DetectionBoxes(image_index=d_img, category_index=dt.category_index[d], xywh=dt.xywh[d],
                            scores=dt.scores[d])
    return DatasetEvaluation(new_gt, new_dt, int(weights.sum()), names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--dets-per-image", type=int, default=15)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="the best time counts")
    parser.add_argument("--threads", type=int, default=1, help="threads of the bootstrap (default 1)")
    parser.add_argument("--naive", type=int, default=3, help="resamples evaluated the slow way (default 3)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.resamples, args.repeat, args.naive = 50, 20, 1, 1
    rng = np.random.default_rng(0)
    gt = ground_truth(rng, args.images)
    dt_a = detections(rng, gt, args.images, args.dets_per_image, 0.12)
    dt_b = detections(rng, gt, args.images, args.dets_per_image, 0.10)
    names = [f"class_{k:02d}" for k in range(NUM_CLASSES)]
    a, b = DatasetEvaluation(gt, dt_a, args.images, names), DatasetEvaluation(gt, dt_b, args.images, names)
    print(f"data: {args.images} images, {NUM_CLASSES} classes, {len(gt)} objects, {len(dt_a)} + {len(dt_b)} "
          f"detections")
    t0 = time.perf_counter()
    stats_a, stats_b = a.coco.stats, b.coco.stats
    print(f"engine COCO evaluation of A and B: {time.perf_counter() - t0:.2f} s "
          f"(AP {stats_a['AP']:.4f} -> {stats_b['AP']:.4f})")
    best_pre = best_boot = best_cpu = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        tables = (SideTable(gt, dt_a, NUM_CLASSES), SideTable(gt, dt_b, NUM_CLASSES))
        t1, c1 = time.perf_counter(), time.process_time()
        result = paired_bootstrap(a, b, resamples=args.resamples, seed=0, tables=tables, threads=args.threads)
        t2, c2 = time.perf_counter(), time.process_time()
        best_pre, best_boot, best_cpu = min(best_pre, t1 - t0), min(best_boot, t2 - t1), min(best_cpu, c2 - c1)
    print(f"precompute (both sides matched once): {best_pre:.2f} s")
    print(f"{args.resamples} paired resamples: {best_boot:.2f} s wall ({1e3 * best_boot / args.resamples:.2f} ms each), "
          f"{best_cpu:.2f} s CPU, {args.threads} thread(s), best of {args.repeat}")
    print(f"ΔAP {result.ap.delta:+.4f} [{result.ap.low:+.4f}, {result.ap.high:+.4f}], "
          f"ΔAP50 {result.ap50.delta:+.4f} [{result.ap50.low:+.4f}, {result.ap50.high:+.4f}] (95 %)")
    if args.naive > 0:
        t0 = time.perf_counter()
        worst = 0.0
        for j in range(min(args.naive, args.resamples)):
            weights = resample_weights(args.images, 0, j, j + 1)[0]
            stats = [resampled(gt, dt, weights, names).coco.stats for dt in (dt_a, dt_b)]
            worst = max(worst, abs((stats[1]["AP"] - stats[0]["AP"]) - result.d_ap[j]),
                        abs((stats[1]["AP50"] - stats[0]["AP50"]) - result.d_ap50[j]))
        each = (time.perf_counter() - t0) / min(args.naive, args.resamples)
        print(f"naive (resampled dataset evaluated by the engine): {each:.2f} s per resample, "
              f"{each * args.resamples / best_boot:.0f}x the bootstrap's time; largest |ΔAP difference| {worst:.1e} "
              f"(0 but for equal scores of one image and class, see evaluation.bootstrap)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
