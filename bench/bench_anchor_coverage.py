"""Benchmark: anchor coverage of a COCO-sized dataset (``detviewer anchors``, the window's coverage view).

A synthetic COCO val2017-like set: ``--images`` images (default 5,000) with ~7.2 objects each (~36,000 boxes;
sqrt(area) log-normal around 45 px, aspect ratio log-normal) and torchvision's Faster R-CNN ResNet-50 FPN
(weights=None: anchors do not depend on weights), whose transform resizes 640x480 to 800x1066 (217,413 anchors).
Two size mixes: every image 640x480 (one input size), and COCO's mix of orientations and sizes (``--sizes``
distinct ones). Prints, each the median of ``--repeat`` runs (this 2-core machine is shared: medians, and noisy):

1. coverage: the best IoU of every object (anchors generated once per distinct input size) and the tables;
2. the k-means suggestion (3 shapes on each of the 5 levels) and the coverage of the suggested anchors;
3. the reference: torchvision.ops.box_iou against all anchors for a sample of objects (``--sample``), in
   blocks, extrapolated to every object, its best IoU checked equal (1e-6) to the coverage's;
4. the whole command, ``detviewer anchors --model fasterrcnn_resnet50_fpn --gt synthetic.json --json``
   (process start, imports, model build, COCO file, coverage, suggestion), on the COCO mix.

    .venv/bin/python bench/bench_anchor_coverage.py [--images 5000] [--repeat 3] [--sample 1000]
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
import torch
import torchvision.models.detection as detection_models
from torchvision.ops import box_iou

from detviewer.core.metrics import GroundTruthBoxes
from detviewer.evaluation.anchor_suggestion import suggest_anchors
from detviewer.evaluation.coverage import anchor_coverage
from detviewer.ops.model_anchors import TorchvisionAnchors

# (height, width) of COCO-like images: landscape and portrait 4:3 and 3:2, squares and odd sizes
COCO_SIZES = [(480, 640), (640, 480), (427, 640), (640, 427), (426, 640), (640, 426), (425, 640), (612, 612),
              (500, 375), (375, 500), (500, 333), (333, 500), (640, 640), (480, 480), (360, 640), (640, 360),
              (512, 640), (640, 512), (429, 640), (424, 640), (428, 640), (431, 640), (383, 640), (640, 383),
              (538, 640), (473, 640), (400, 600), (600, 400), (334, 500), (500, 334)]


def synthetic(images: int, sizes: list[tuple[int, int]], seed: int = 0):
    """(GroundTruthBoxes, image_hw (I, 2)): ~7.2 objects per image, COCO-like shapes (70 % of images the first size)."""
    rng = np.random.default_rng(seed)
    weights = np.r_[0.7, np.full(len(sizes) - 1, 0.3 / max(len(sizes) - 1, 1))] if len(sizes) > 1 else np.ones(1)
    image_hw = np.array(sizes)[rng.choice(len(sizes), images, p=weights)]
    per_image = rng.poisson(7.2, images)
    img = np.repeat(np.arange(images), per_image)
    side = np.exp(rng.normal(np.log(45), 0.9, len(img)))
    ratio = np.exp(rng.normal(0.0, 0.6, len(img)))  # h / w
    wh = np.minimum(np.c_[side / np.sqrt(ratio), side * np.sqrt(ratio)], image_hw[img][:, ::-1] - 1).clip(1, None)
    xy = rng.uniform(0, 1, (len(img), 2)) * (image_hw[img][:, ::-1] - wh)
    xywh = np.c_[xy, wh]
    n = len(img)
    gt = GroundTruthBoxes(image_index=img, category_index=rng.integers(0, 80, n), xywh=xywh, area=wh.prod(axis=1),
                          crowd=np.zeros(n, bool), difficult=np.zeros(n, bool), ids=np.arange(1, n + 1))
    return gt, image_hw


def _median_time(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _reference(source, gt, image_hw, coverage, sample: int) -> tuple[float, float]:
    """(seconds extrapolated to every object, max |IoU difference|) of box_iou against all anchors."""
    rng = np.random.default_rng(1)
    pick = np.sort(rng.choice(len(coverage), min(sample, len(coverage)), replace=False))
    seconds, worst = 0.0, 0.0
    for (h, w), _ in coverage.input_sizes:
        in_size = [source.input_size(tuple(s)) for s in image_hw[gt.image_index[coverage.gt_index[pick]]]]
        members = pick[np.array([s == (h, w) for s in in_size], bool)]
        if not len(members):
            continue
        t0 = time.perf_counter()
        anchors = torch.from_numpy(np.concatenate([s.boxes for s in source.anchors((h, w))])).double()
        g = coverage.gt_index[members]
        scale = np.array([h, w]) / image_hw[gt.image_index[g]]
        xywh = gt.xywh[g]
        xyxy = np.c_[xywh[:, 0] * scale[:, 1], xywh[:, 1] * scale[:, 0], (xywh[:, 0] + xywh[:, 2]) * scale[:, 1],
                     (xywh[:, 1] + xywh[:, 3]) * scale[:, 0]]
        best = torch.cat([box_iou(torch.from_numpy(xyxy[i:i + 64]), anchors).max(dim=1).values
                          for i in range(0, len(xyxy), 64)]).numpy()
        seconds += time.perf_counter() - t0
        worst = max(worst, float(np.abs(best - coverage.best_iou[members]).max()))
    return seconds * len(coverage) / len(pick), worst


def _write_coco(path: Path, gt, image_hw) -> None:
    images = [{"id": i + 1, "file_name": f"{i:06d}.jpg", "height": int(h), "width": int(w)}
              for i, (h, w) in enumerate(image_hw.tolist())]
    annotations = [{"id": int(k), "image_id": int(i) + 1, "category_id": int(c) + 1, "bbox": [round(v, 2) for v in b],
                    "area": round(float(b[2] * b[3]), 2), "iscrowd": 0}
                   for k, i, c, b in zip(gt.ids, gt.image_index, gt.category_index, gt.xywh.tolist())]
    categories = [{"id": c + 1, "name": f"class {c}"} for c in range(80)]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--model", default="fasterrcnn_resnet50_fpn", help="a torchvision detector with anchors")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.images, args.repeat, args.sample, args.model = 20, 1, 5, "fasterrcnn_mobilenet_v3_large_320_fpn"
    t0 = time.perf_counter()
    source = TorchvisionAnchors(getattr(detection_models, args.model)(weights=None, weights_backbone=None).eval(),
                                args.model)
    print(f"model built in {time.perf_counter() - t0:.2f} s; torch threads {torch.get_num_threads()}; "
          f"medians of {args.repeat} runs on a shared 2-core CPU")
    mix = COCO_SIZES[:2] if args.smoke else COCO_SIZES
    for label, sizes in (("every image 640x480", [(480, 640)]), (f"COCO mix of {len(mix)} sizes", mix)):
        gt, image_hw = synthetic(args.images, sizes)
        fresh = lambda: TorchvisionAnchors(source.model, source.name)  # noqa: E731 - no cached geometry
        seconds, coverage = _median_time(lambda: anchor_coverage(fresh(), gt, image_hw, [f"c{i}" for i in range(80)]),
                                         args.repeat)
        anchors = sum(len(s) for s in source.anchors(source.input_size((480, 640))))
        print(f"\n{label}: {args.images} images, {len(gt)} objects, {len(coverage.input_sizes)} input sizes, "
              f"{anchors} anchors at 640x480")
        print(f"  coverage (best IoU of every object + tables): {seconds:.2f} s  "
              f"[{100 * coverage.share_below:.1f}% below {coverage.positive_iou:g}]")
        s_seconds, suggestion = _median_time(lambda: suggest_anchors(fresh(), coverage, gt, image_hw), args.repeat)
        print(f"  k-means suggestion + its coverage:            {s_seconds:.2f} s  "
              f"[{100 * suggestion.coverage.share_below:.1f}% below]")
        reference, worst = _reference(source, gt, image_hw, coverage, args.sample)
        print(f"  reference box_iou vs all anchors, extrapolated from {args.sample} objects: {reference:.0f} s "
              f"({reference / seconds:.0f}x the coverage); max |IoU difference| {worst:.1e}")
        if len(sizes) > 1:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "synthetic.json"
                _write_coco(path, gt, image_hw)
                command = [str(Path(sys.executable).parent / "detviewer"), "anchors", "--model",
                           args.model, "--gt", str(path), "--json"]
                c_seconds, result = _median_time(lambda: subprocess.run(command, capture_output=True, text=True),
                                                 args.repeat)
                ok = result.returncode == 0 and json.loads(result.stdout)["objects"] == len(gt)
                print(f"  whole command (detviewer anchors ... --json):  {c_seconds:.2f} s  [{'ok' if ok else 'FAILED'}]")


if __name__ == "__main__":
    main()
