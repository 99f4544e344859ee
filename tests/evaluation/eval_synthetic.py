"""Small random COCO ground truth + results with the awkward cases: crowds, empty images, ties,
a class without ground truth, a class never predicted, duplicates, loose boxes and wrong classes."""

from __future__ import annotations

import numpy as np


def coco_case(seed: int = 0, num_images: int = 40, num_classes: int = 5) -> tuple[dict, list[dict]]:
    """(ground-truth dict, results list). Class ``num_classes`` has no GT; class 3 is never predicted."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "file_name": f"img_{i:03d}.jpg", "width": 320, "height": 240}
              for i in range(1, num_images + 1)]
    cats = [{"id": c, "name": f"c{c}"} for c in range(1, num_classes + 1)]
    anns, results = [], []
    for img in images[:-4]:  # the last four images have no objects
        for _ in range(int(rng.integers(0, 6))):
            w, h = (round(float(v), 1) for v in np.exp(rng.uniform(2, 4.5, 2)))
            box = [round(float(rng.uniform(0, 250)), 1), round(float(rng.uniform(0, 180)), 1), w, h]
            cat = int(rng.integers(1, num_classes))
            crowd = int(rng.random() < 0.08)
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": box,
                         "area": round(w * h, 2), "iscrowd": crowd})
            for _ in range(int(rng.integers(0, 3))):  # 0-2 detections per object: duplicates
                if cat == 3 and rng.random() < 0.7:
                    continue
                label = cat if rng.random() > 0.15 else int(rng.integers(1, num_classes + 1))
                spread = rng.choice([0.03, 0.15, 0.4])
                x, y = box[0] + rng.normal(0, spread * w), box[1] + rng.normal(0, spread * h)
                bw, bh = w * np.exp(rng.normal(0, spread)), h * np.exp(rng.normal(0, spread))
                results.append({"image_id": img["id"], "category_id": label if label != 3 else 1,
                                "bbox": [round(float(v), 1) for v in (x, y, bw, bh)],
                                "score": round(float(rng.random()), 2)})
    for img in images:
        for _ in range(int(rng.integers(0, 3))):  # background boxes, on the empty images too
            results.append({"image_id": img["id"], "category_id": int(rng.choice([1, 2, 4, num_classes])),
                            "bbox": [round(float(v), 1) for v in (*rng.uniform(0, 250, 2), *rng.uniform(5, 60, 2))],
                            "score": round(float(rng.random()), 2)})
    return {"images": images, "annotations": anns, "categories": cats}, results
