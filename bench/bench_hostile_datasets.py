"""Benchmark: what a hostile dataset costs ``detviewer eval`` before it is refused (issue: <= 2 GB, <= 20 s each).

Each case is written to a temporary folder and run as ``detviewer eval --gt CASE --pred PRED.json`` in its own
process; printed: the exit code, wall seconds, the child's peak RSS (GNU time) and its one error line.

1. a data.yaml naming 10^6 classes (flow list);
2. a COCO file with 10^6 categories;
3. a YAML alias bomb (9 levels of 9 aliases: 9^9 names once expanded);
4. a COCO file at the bound, 10,000 categories, 200 images, 2,000 objects and detections (evaluated, not refused);
5. a COCO file whose file_name is /dev/zero, run by the demo SSD (``--model demo-ssd --no-cache``).

    .venv/bin/python bench/bench_hostile_datasets.py [--repeat 1]

The 2-core machine is shared: the seconds are noisy (the median of --repeat runs is printed).
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

REPO = Path(__file__).resolve().parents[1]


def run(argv: list[str]) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MB, first error line) of ``detviewer ARGV`` in a fresh process (GNU time's
    %M: the child's own peak, not the bench's RSS at fork as wait4 would report)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m", "detviewer", *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    lines = done.stderr.splitlines()
    rss = next((int(ln.split("=")[1]) for ln in reversed(lines) if ln.startswith("maxrss_kb=")), 0) / 1024
    line = next((ln for ln in lines if ln.startswith("error:")), "")
    return done.returncode, seconds, rss, line


def cases(folder: Path) -> list[tuple[str, list[str]]]:
    pred = folder / "pred.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]))
    names = folder / "names.yaml"
    names.write_text("path: .\nval: images\nnames: [" + ",".join(f"c{i}" for i in range(10 ** 6)) + "]\n")
    cats = folder / "cats.json"
    cats.write_text(json.dumps({"images": [{"id": 1, "file_name": "1.jpg"}], "annotations": [],
                                "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 10 ** 6 + 1)]}))
    bomb = folder / "bomb.yaml"
    lines = ["path: .", "val: images", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")]
    bomb.write_text("\n".join(lines + ["names: *i"]) + "\n")
    rng = np.random.default_rng(0)
    k, images, anns, results = 10_000, [{"id": i, "file_name": f"{i}.jpg"} for i in range(1, 201)], [], []
    for img in images:
        for _ in range(10):
            cat, xy = int(rng.integers(1, k + 1)), [float(v) for v in rng.uniform(0, 300, 2)]
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": xy + [50, 50],
                         "area": 2500, "iscrowd": 0})
            label = cat if rng.random() < 0.7 else int(rng.integers(1, k + 1))
            results.append({"image_id": img["id"], "category_id": label, "bbox": [xy[0] + 2, xy[1], 50, 50],
                            "score": float(rng.random())})
    bound = folder / "bound.json"
    bound.write_text(json.dumps({"images": images, "annotations": anns,
                                 "categories": [{"id": i, "name": f"c{i}"} for i in range(1, k + 1)]}))
    (folder / "bound_pred.json").write_text(json.dumps(results))
    zero = folder / "zero.json"
    zero.write_text(json.dumps({"images": [{"id": 1, "file_name": "/dev/zero"}], "annotations": [],
                                "categories": [{"id": 1, "name": "circle"}]}))
    return [("data.yaml, 10^6 names", ["eval", "--gt", str(names), "--pred", str(pred)]),
            ("COCO, 10^6 categories", ["eval", "--gt", str(cats), "--pred", str(pred)]),
            ("YAML alias bomb", ["eval", "--gt", str(bomb), "--pred", str(pred)]),
            ("COCO, 10,000 categories (evaluated)", ["eval", "--gt", str(bound), "--pred",
                                                     str(folder / "bound_pred.json"), "--json"]),
            ("COCO file_name /dev/zero, demo-ssd", ["eval", "--model", "demo-ssd", "--device", "cpu", "--threads",
                                                    "1", "--data", str(zero), "--no-cache"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--case", default="", help="only the cases whose name contains this")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.case = "alias bomb"
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in cases(Path(tmp)):
            if args.case not in name:
                continue
            runs = [run(argv) for _ in range(args.repeat)]
            seconds = statistics.median(r[1] for r in runs)
            rss = max(r[2] for r in runs)
            code, _, _, line = runs[-1]
            print(f"{name:40s} exit {code}  {seconds:6.1f} s  peak RSS {rss:7.0f} MB  {line[:110]}")


if __name__ == "__main__":
    main()
