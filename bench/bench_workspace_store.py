"""The workspace opening a stored run of 100,000 images (goal: ≤ 2 s, RSS ≤ 1 GB), and what the evaluation
costs at that size (precompute once, then one snapshot per score-slider move; stretch goal ≤ 100 ms).

Setup (not timed): a synthetic dataset of ``--images`` images (3 objects each, 10 classes; the image files
need not exist: opening a stored run reads none) and one stored run over it, written straight into a fresh
prediction store (``--dets`` detections and ``--cands`` NMS candidates per image, as record blobs, in
transactions of 1000 images). Timed, in a fresh process: the workspace's loading path,
``evaluation.stored_run.open_stored_run`` (one query for the run's image hashes and detections; candidates
stay in the store and are read per image on demand), then ``DatasetSession.set_predictions`` +
``precompute`` (the background task the window starts) and ``snapshot`` at several scores (what one slider
move asks of the evaluation; the tabs' own drawing is not included). RSS is the process's peak.

Usage: .venv/bin/python bench/bench_workspace_store.py [--images 100000] [--dets 10] [--cands 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from detviewer.core.run_info import RunInfo
from detviewer.io import prediction_records as records
from detviewer.io.dataset_types import dataset_from_boxes
from detviewer.io.prediction_store import STORE_NAME, PredictionStore

CLASSES = [f"class{i}" for i in range(10)]
MODEL_CLASSES = ("__background__", *CLASSES)


def synthetic_dataset(root: Path, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 500, (n, 3, 2))
    wh = rng.uniform(20, 120, (n, 3, 2))
    cls = rng.integers(0, len(CLASSES), (n, 3))
    per_image = [(np.c_[xy[i], wh[i]], cls[i], np.zeros(3, bool)) for i in range(n)]
    return dataset_from_boxes(root, [f"images/{i:06d}.jpg" for i in range(n)], CLASSES, per_image, "coco",
                              root / "annotations.json", [])


def write_store(folder: Path, dataset, dets: int, cands: int, seed: int = 1) -> None:
    """One stored run over ``dataset``: detections near the ground truth (some right, some off), candidates."""
    rng = np.random.default_rng(seed)
    store = PredictionStore.open(folder)
    info = store.register(RunInfo("synthetic", "0" * 16, "default", str(dataset.source)), "bench", MODEL_CLASSES)
    gt = dataset.gt.boxes
    conn = sqlite3.connect(folder / STORE_NAME)
    hashes, batch, cand_batch = [], [], []
    for i in range(dataset.num_images):
        rows = slice(3 * i, 3 * i + 3)  # synthetic_dataset: 3 objects per image, in image order
        base = gt.xywh[rows]
        det = np.empty(dets, records.RECORD)
        pick = rng.integers(0, len(base), dets)
        xy = base[pick, :2] + rng.normal(0, 8, (dets, 2))
        det["xyxy"] = np.c_[xy, xy + base[pick, 2:]].astype(np.float32)
        det["score"] = rng.uniform(0.05, 1.0, dets).astype(np.float32)
        det["label"] = np.where(rng.uniform(size=dets) < 0.8, gt.category_index[rows][pick] + 1,
                                rng.integers(1, len(MODEL_CLASSES), dets))
        cand = np.concatenate([det, det[rng.integers(0, dets, cands - dets)]]) if cands > dets else det
        digest = f"{i:024x}"
        hashes.append(digest)
        batch.append((info.run_id, digest, 480, 640, 0.5, 0.05, 0, 100, records.RECORD_NAME, dets, det.tobytes(),
                      time.time()))
        cand_batch.append((info.run_id, digest, len(cand), cand.tobytes()))
        if len(batch) == 1000 or i == dataset.num_images - 1:
            conn.executemany("INSERT OR REPLACE INTO predictions VALUES (" + ", ".join("?" * 12) + ")", batch)
            conn.executemany("INSERT OR REPLACE INTO candidates VALUES (?, ?, ?, ?)", cand_batch)
            conn.commit()
            batch.clear()
            cand_batch.clear()
    conn.close()
    store.record_dataset(info.run_id, str(dataset.source), hashes)
    store.close()


def timed_open(folder: Path, n: int) -> dict:
    """In this process (a fresh one): build the dataset (not timed), open the stored run, evaluate."""
    from detviewer.evaluation.session import DatasetSession
    from detviewer.evaluation.stored_run import open_stored_run

    dataset = synthetic_dataset(folder.parent / "ds", n)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    run = open_stored_run(PredictionStore.open(folder), dataset)
    open_s = time.perf_counter() - start
    rss_open = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert run is not None and not run.failures and run.cached == n
    session = DatasetSession(dataset)
    start = time.perf_counter()
    session.set_predictions("A", run.predictions, "synthetic")
    session.precompute(0.5)
    precompute_s = time.perf_counter() - start
    moves = []
    for score in (0.3, 0.5, 0.7, 0.4, 0.6):
        start = time.perf_counter()
        session.snapshot("A", score, 0.5)
        moves.append(time.perf_counter() - start)
    start = time.perf_counter()
    cand = run.predictions.cached(n // 2)
    lazy_ms = (time.perf_counter() - start) * 1000
    return {"open_s": open_s, "rss_before_mb": rss_before, "rss_open_mb": rss_open, "precompute_s": precompute_s,
            "snapshot_s": sorted(moves)[len(moves) // 2], "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            / 1024, "detections": len(run.predictions), "lazy_candidates_ms": lazy_ms, "candidates": len(cand.candidates)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--dets", type=int, default=10)
    parser.add_argument("--cands", type=int, default=30)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, no numbers to read (tests/test_bench_smoke.py; also "
                             "DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.images, args.dets, args.cands = 200, 3, 5
    if args.child:
        print(json.dumps(timed_open(Path(args.child), args.images)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "store"
        start = time.perf_counter()
        write_store(folder, synthetic_dataset(Path(tmp) / "ds", args.images), args.dets, args.cands)
        size = (folder / STORE_NAME).stat().st_size / 1e6
        print(f"setup: {args.images} images, {args.dets} detections + {args.cands} candidates each, store "
              f"{size:.0f} MB, written in {time.perf_counter() - start:.1f} s")
        done = subprocess.run([sys.executable, __file__, "--images", str(args.images), "--child", str(folder)],
                              capture_output=True, text=True, check=True)
        r = json.loads(done.stdout)
    print(f"open the stored run (workspace loading path): {r['open_s']:.2f} s, {r['detections']} detections "
          f"(goal <= 2 s)")
    print(f"RSS: {r['rss_before_mb']:.0f} MB with the dataset, {r['rss_open_mb']:.0f} MB after opening, "
          f"{r['rss_peak_mb']:.0f} MB peak after evaluating (goal <= 1024 MB)")
    print(f"evaluation precompute (set_predictions + precompute, background task): {r['precompute_s']:.2f} s")
    print(f"one score-slider move (session.snapshot, median of 5): {r['snapshot_s'] * 1000:.0f} ms (stretch <= 100 ms)")
    print(f"one image's candidates read on demand: {r['lazy_candidates_ms']:.2f} ms ({r['candidates']} boxes)")


if __name__ == "__main__":
    main()
