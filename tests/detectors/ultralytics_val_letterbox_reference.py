"""``yolo val``'s preprocessing of single images, run in a child process (test_val_letterbox.py starts it).

Usage: python ultralytics_val_letterbox_reference.py WORK_DIR IMGSZ H,W ...   (prints one JSON list)

For each shape, a noise PNG in its own YOLO folder goes through Ultralytics' own val dataset
(``build_yolo_dataset(mode="val")``, batch 1, rect off and on): the network input's shape, the sha256 of its
RGB pixels and the ``ratio_pad`` val keeps for the way back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def noise_image(h: int, w: int):
    import numpy as np

    return np.random.default_rng(h * 7 + w).integers(0, 255, (h, w, 3), dtype=np.uint8)


def main(argv: list[str]) -> int:
    work, imgsz = Path(argv[1]), int(argv[2])
    os.environ.update(YOLO_OFFLINE="1", YOLO_AUTOINSTALL="0", YOLO_VERBOSE="0", YOLO_CONFIG_DIR=str(work / "config"))
    import cv2
    import numpy as np
    from ultralytics.cfg import get_cfg
    from ultralytics.data.build import build_yolo_dataset

    out = []
    for rect in (False, True):
        for text in argv[3:]:
            h, w = (int(v) for v in text.split(","))
            folder = work / f"{int(rect)}_{h}x{w}"
            (folder / "images").mkdir(parents=True, exist_ok=True)
            (folder / "labels").mkdir(exist_ok=True)
            cv2.imwrite(str(folder / "images" / "a.png"), noise_image(h, w)[:, :, ::-1])
            (folder / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
            cfg = get_cfg(overrides={"imgsz": imgsz, "rect": rect, "cache": False, "workers": 0})
            dataset = build_yolo_dataset(cfg, str(folder / "images"), 1, {"names": {0: "a"}, "channels": 3},
                                         mode="val", rect=rect, stride=32)
            item = dataset[0]
            pixels = np.ascontiguousarray(item["img"].numpy().transpose(1, 2, 0))  # val's Format gives RGB CHW
            (gain_h, gain_w), (pad_w, pad_h) = item["ratio_pad"]
            out.append({"rect": rect, "hw": [h, w], "input_hw": list(pixels.shape[:2]),
                        "sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
                        "gains": [float(gain_w), float(gain_h)], "pad": [float(pad_w), float(pad_h)]})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
