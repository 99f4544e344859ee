"""What ``yolo val`` reports for an ONNX export on a YOLO dataset, run in a child process.

Usage: python ultralytics_val_reference.py MODEL.onnx DATA.yaml IMGSZ WORK_DIR   (prints one JSON object)

The same call as ``yolo val model=MODEL.onnx data=DATA.yaml imgsz=IMGSZ batch=1 device=cpu plots=False``
(batch 1: an ONNX export without dynamic axes takes one image). The JSON holds mAP50, mAP50-95 and the versions
that produced them; test_ultralytics_val_parity.py compares detviewer against it (live when Ultralytics is
installed, else against tests/data/shapes_yolov8n_val_reference.json, which this script wrote). A child process
keeps Ultralytics' global changes (numpy print options, OpenCV threads) out of the test session, and the
environment keeps it offline.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    model, data, imgsz, work = argv[1], argv[2], int(argv[3]), Path(argv[4])
    os.environ.update(YOLO_OFFLINE="1", YOLO_AUTOINSTALL="0", YOLO_VERBOSE="0",
                      YOLO_CONFIG_DIR=str(work / "config"))
    import numpy
    import onnxruntime
    import ultralytics
    from ultralytics import YOLO

    metrics = YOLO(model, task="detect").val(data=str(Path(data).resolve()), imgsz=imgsz, batch=1, device="cpu",
                                            plots=False, project=str(work / "runs"), name="val", exist_ok=True,
                                            verbose=False)
    print(json.dumps({
        "mAP50": float(metrics.box.map50), "mAP50-95": float(metrics.box.map),
        "command": f"yolo val model={Path(model).name} data=data.yaml imgsz={imgsz} batch=1 device=cpu plots=False",
        "versions": {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__,
                     "numpy": numpy.__version__},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
