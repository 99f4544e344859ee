"""Benchmark: evaluating a whole dataset's results (the Evaluation workspace's engine and ``detviewer eval``).

Uses bench_eval's COCO-like generator (5,000 images, 80 classes, ~7 objects and 15 detections per image,
1 % crowd, 3-decimal scores) and prints, each as the median of ``--repeat`` runs (this machine is shared
and noisy, so medians, not minimums):

1. whole process: parse GT + results, then every number, curve, matrix and the TIDE breakdown
   (COCO table, PR curves, P/R/F1 curves, confusion matrix, per-class and per-image tables, TIDE), vs
   the COCO table alone, vs faster-coco-eval's whole process for the COCO table;
2. a score-threshold change: ``DatasetEvaluation.at(score)`` (confusion matrix, class and images tables,
   curve markers), median and worst of 50 random thresholds, in-process;
3. with ``--large N`` (e.g. 100000): the same whole-process evaluation on N images, its wall time and
   peak RSS (ru_maxrss), the files generated with numpy.

    .venv/bin/python bench/bench_dataset_eval.py [--images 5000] [--repeat 5] [--large 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_eval import FASTER_COCO_EVAL, generate  # noqa: E402

EVERYTHING = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from detviewer.io.annotations import load_coco_gt
from detviewer.io.coco_results import load_coco_results
from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
gt = load_coco_gt(sys.argv[1]); res = load_coco_results(sys.argv[2], gt)
ev = DatasetEvaluation(gt.boxes, res.boxes, gt.num_images, gt.category_names)
snap = ev.at(ev.curves(0.5).best_threshold, 0.5)
out = {"AP": ev.coco.stats["AP"], "tide": snap.tide.main_dap, "cm": int(snap.confusion.counts.sum()),
       "images_tp": int(snap.images.tp.sum()), "pr": float(snap.pr.precision_50[0].sum())}
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["inside_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""

COCO_ONLY = r"""
import json, sys
from detviewer.io.annotations import load_coco_gt
from detviewer.io.coco_results import load_coco_results
from detviewer.core.coco_eval import evaluate_coco
gt = load_coco_gt(sys.argv[1]); res = load_coco_results(sys.argv[2], gt)
print(json.dumps(evaluate_coco(gt.boxes, res.boxes, gt.num_images, gt.num_categories).stats))
"""


def _median_time(cmd: list[str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        out = proc.stdout
    return statistics.median(times), out


def slider(gt_path: Path, pred_path: Path) -> tuple[float, float, float]:
    """(median, worst) ms of at(score) over 50 random thresholds, and ms of an IoU change (new matchings)."""
    from detviewer.evaluation.dataset_evaluation import DatasetEvaluation
    from detviewer.io.annotations import load_coco_gt
    from detviewer.io.coco_results import load_coco_results

    gt = load_coco_gt(gt_path)
    ev = DatasetEvaluation(gt.boxes, load_coco_results(pred_path, gt).boxes, gt.num_images, gt.category_names)
    ev.precompute(0.5)
    ev.at(0.5)
    times = []
    for score in np.random.default_rng(0).uniform(0, 1, 50):
        t0 = time.perf_counter()
        snap = ev.at(float(score), 0.5)
        snap.curves.at(float(score))
        times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    ev.at(0.3, 0.6)  # a new matching IoU: both matchings, curves and per-image AP recomputed
    return statistics.median(times), max(times), (time.perf_counter() - t0) * 1000


def generate_large(folder: Path, num_images: int, dets_per_image: int = 15, seed: int = 0) -> tuple[Path, Path]:
    """A large GT + results pair written with numpy (bench_eval's generator is too slow past 10k images)."""
    rng = np.random.default_rng(seed)
    n_gt = rng.poisson(7, num_images)
    img = np.repeat(np.arange(1, num_images + 1), n_gt)
    wh = np.exp(rng.uniform(np.log(6), np.log(300), (len(img), 2)))
    xy = rng.uniform(0, 1, (len(img), 2)) * (np.array([640, 480]) - wh)
    cat = rng.integers(1, 81, len(img))
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(1, num_images + 1)]
    anns = [{"id": k + 1, "image_id": int(i), "category_id": int(c), "bbox": [round(float(v), 2) for v in b],
             "area": round(float(b[2] * b[3]), 2), "iscrowd": 0}
            for k, (i, c, b) in enumerate(zip(img, cat, np.c_[xy, wh]))]
    cats = [{"id": c, "name": f"class_{c:02d}"} for c in range(1, 81)]
    gt_path = folder / "gt_large.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    del anns
    d_img = np.repeat(np.arange(1, num_images + 1), dets_per_image)
    # half the detections jitter an object of the same image where there is one, the rest are random
    first = np.r_[0, np.cumsum(n_gt)][d_img - 1]
    has = n_gt[d_img - 1] > 0
    pick = first + (rng.integers(0, 1 << 30, len(d_img)) % np.maximum(n_gt[d_img - 1], 1))
    jitter = has & (rng.random(len(d_img)) < 0.5)
    box = np.c_[rng.uniform(0, 500, (len(d_img), 2)), rng.uniform(6, 200, (len(d_img), 2))]
    src = np.c_[xy, wh][np.minimum(pick, len(img) - 1)]
    box[jitter] = src[jitter] * np.exp(rng.normal(0, 0.1, (int(jitter.sum()), 4)))
    d_cat = np.where(jitter, cat[np.minimum(pick, len(img) - 1)], rng.integers(1, 81, len(d_img)))
    score = np.round(np.where(jitter, rng.beta(5, 2, len(d_img)), rng.beta(2, 5, len(d_img))), 3)
    pred_path = folder / "pred_large.json"
    with open(pred_path, "w") as fh:
        fh.write("[")
        fh.write(",".join(f'{{"image_id":{i},"category_id":{c},"bbox":[{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f}],'
                          f'"score":{s}}}' for i, c, b, s in zip(d_img.tolist(), d_cat.tolist(), box.tolist(),
                                                                  score.tolist())))
        fh.write("]")
    return gt_path, pred_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per process measurement; the median counts")
    parser.add_argument("--large", type=int, default=0, help="also run the large-file check on this many images")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.repeat, args.large = 20, 1, 0
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = generate(Path(tmp), args.images, 15)
        print(f"data: {args.images} images, {args.images * 15} detections "
              f"({gt.stat().st_size / 1e6:.1f} + {pred.stat().st_size / 1e6:.1f} MB JSON); medians of {args.repeat} "
              f"runs on a shared machine")
        t_all, out = _median_time([python, "-c", EVERYTHING, str(gt), str(pred)], args.repeat)
        inside = json.loads(out)
        t_coco, _ = _median_time([python, "-c", COCO_ONLY, str(gt), str(pred)], args.repeat)
        t_fast, _ = _median_time([python, "-c", FASTER_COCO_EVAL, str(gt), str(pred)], args.repeat)
        print(f"open + every number, curve, matrix, TIDE  {t_all:6.2f} s whole process "
              f"({inside['inside_s']:.2f} s after start-up; peak RSS {inside['rss_mb']:.0f} MB)")
        print(f"COCO table alone                          {t_coco:6.2f} s whole process")
        print(f"faster-coco-eval, COCO table              {t_fast:6.2f} s whole process   "
              f"ours / faster-coco-eval = {t_coco / t_fast:.2f}")
        med, worst, iou_ms = slider(gt, pred)
        print(f"score threshold change (everything)       {med:6.1f} ms median, {worst:.1f} ms worst of 50")
        print(f"matching IoU change (new matchings)       {iou_ms:6.0f} ms")
        if args.large:
            t0 = time.perf_counter()
            big_gt, big_pred = generate_large(Path(tmp), args.large)
            print(f"large: {args.large} images, {args.large * 15} detections "
                  f"({big_gt.stat().st_size / 1e6:.0f} + {big_pred.stat().st_size / 1e6:.0f} MB JSON, "
                  f"generated in {time.perf_counter() - t0:.0f} s)")
            t_big, out = _median_time([python, "-c", EVERYTHING, str(big_gt), str(big_pred)], 1)
            big = json.loads(out)
            print(f"large: open + everything                  {t_big:6.1f} s, peak RSS {big['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
