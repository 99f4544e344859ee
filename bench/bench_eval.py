"""Benchmark: the whole ``detviewer eval`` process against faster-coco-eval and pycocotools.

Generates a COCO-like ground truth (5,000 images, 80 categories, ~7 boxes per image,
1 % crowd) and 75,000 detections (15 per image: jittered GT boxes, some with the wrong
class, plus random boxes; scores rounded to 3 decimals so ties occur) deterministically
into a temporary folder. Each evaluator then runs as its own subprocess so that Python
start-up, imports and JSON parsing count for all three. Prints seconds (best of
``--repeat``) and ratios, and checks that the three agree on the 12 summary numbers.

    .venv/bin/python bench/bench_eval.py [--images 5000] [--dets-per-image 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FASTER_COCO_EVAL = r"""
import json, sys, contextlib, io, logging
logging.disable(logging.CRITICAL)
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    ev = COCOeval_faster(gt, dt, "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps([float(v) for v in ev.stats[:12]]))
"""

PYCOCOTOOLS = r"""
import json, sys, contextlib, io
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps([float(v) for v in ev.stats]))
"""


def generate(folder: Path, num_images: int, dets_per_image: int, seed: int = 0) -> tuple[Path, Path]:
    """Write gt.json and pred.json into ``folder``; returns their paths."""
    rng = np.random.default_rng(seed)
    num_cats = 80
    images, anns, results = [], [], []
    ann_id = 1
    for image_id in range(1, num_images + 1):
        width, height = 640, 480
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": width, "height": height})
        n_gt = int(rng.poisson(7))
        sizes = np.exp(rng.uniform(np.log(6), np.log(400), size=(n_gt, 2)))
        gt_boxes = []
        for w, h in sizes:
            w, h = min(w, width - 1), min(h, height - 1)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            box = [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]
            cat = int(rng.integers(1, num_cats + 1))
            crowd = int(rng.random() < 0.01)
            anns.append({"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": box,
                         "area": round(w * h * rng.uniform(0.6, 0.9), 2), "iscrowd": crowd})
            gt_boxes.append((box, cat))
            ann_id += 1
        for k in range(dets_per_image):
            if gt_boxes and k < 2 * len(gt_boxes):
                (x, y, w, h), cat = gt_boxes[k % len(gt_boxes)]
                x, y = x + rng.normal(0, 0.1 * w), y + rng.normal(0, 0.1 * h)
                w, h = w * np.exp(rng.normal(0, 0.15)), h * np.exp(rng.normal(0, 0.15))
                if rng.random() < 0.1:
                    cat = int(rng.integers(1, num_cats + 1))
                score = rng.beta(5, 2)
            else:
                w, h = np.exp(rng.uniform(np.log(6), np.log(300), size=2))
                x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
                cat = int(rng.integers(1, num_cats + 1))
                score = rng.beta(2, 5)
            results.append({"image_id": image_id, "category_id": cat,
                            "bbox": [round(float(x), 2), round(float(y), 2), round(float(w), 2), round(float(h), 2)],
                            "score": round(float(score), 3)})
    cats = [{"id": c, "name": f"class_{c:02d}", "supercategory": "thing"} for c in range(1, num_cats + 1)]
    gt_path, pred_path = folder / "gt.json", folder / "pred.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    pred_path.write_text(json.dumps(results))
    return gt_path, pred_path


def _time(cmd: list[str], repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        best, out = min(best, elapsed), proc.stdout
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--dets-per-image", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best time counts")
    parser.add_argument("--skip-pycocotools", action="store_true")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.repeat = 20, 1
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = generate(Path(tmp), args.images, args.dets_per_image)
        n_dets = args.images * args.dets_per_image
        print(f"data: {args.images} images, {n_dets} detections, "
              f"{gt.stat().st_size / 1e6:.1f} MB + {pred.stat().st_size / 1e6:.1f} MB JSON")
        t_ours, out = _time([python, "-m", "detviewer", "eval", "--gt", str(gt), "--pred", str(pred), "--json"],
                            args.repeat)
        ours = json.loads(out)["stats"]
        ours = [ours[k] for k in ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
                                  "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")]
        t_fast, out = _time([python, "-c", FASTER_COCO_EVAL, str(gt), str(pred)], args.repeat)
        fast = json.loads(out)
        print(f"detviewer eval    {t_ours:6.2f} s")
        print(f"faster-coco-eval  {t_fast:6.2f} s   detviewer / faster-coco-eval = {t_ours / t_fast:.2f}")
        diffs = {"faster-coco-eval": max(abs(a - b) for a, b in zip(ours, fast))}
        if not args.skip_pycocotools:
            t_ref, out = _time([python, "-c", PYCOCOTOOLS, str(gt), str(pred)], 1)
            ref = json.loads(out)
            print(f"pycocotools       {t_ref:6.2f} s   detviewer / pycocotools = {t_ours / t_ref:.2f} (1 run)")
            diffs["pycocotools"] = max(abs(a - b) for a, b in zip(ours, ref))
        print(f"AP = {ours[0]:.4f}; largest difference of the 12 numbers: "
              + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
