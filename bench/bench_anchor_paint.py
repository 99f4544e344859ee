"""Paint time of all 217,413 anchors of fasterrcnn_resnet50_fpn (weights="none") on a 640×480 frame.

Run: .venv/bin/python bench/bench_anchor_paint.py [--frames 20] [--budget 14]

Targets (issue 5): first paint <= 200 ms, pan / zoom <= 33 ms a frame. Offscreen: the real Canvas
with the anchors view's layers (render.model.views.anchors.anchors_frame, every level); each figure is one
synchronous repaint of the canvas's viewport. The reference in the same run is one plain
``QPainter.drawPath`` of all anchors (the cached path, what a naive item would do every frame),
so the ratio holds on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")


def _anchors_inference(model: str, h: int, w: int):
    import numpy as np
    import torch

    from detviewer.detectors.registry import load_detector

    torch.manual_seed(0)
    detector = load_detector(model, weights="default" if model.startswith("demo-") else "none", device="cpu")
    image = (np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)
    return image, detector.infer(image)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=20, help="pan and zoom frames to time")
    parser.add_argument("--budget", type=float, default=None, help="ManyBoxesItem budget in ms (default: its own)")
    parser.add_argument("--size", default="480x640", help="HxW of the frame")
    parser.add_argument("--model", default="fasterrcnn_resnet50_fpn", help="a detector with anchors")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.frames, args.size, args.model = 2, "120x160", "demo-frcnn"
    h, w = (int(v) for v in args.size.split("x"))

    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter, QPen
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from detviewer.gui.canvas import Canvas
    from detviewer.render.model.views.anchors import AnchorViewState, anchors_frame
    from detviewer.render.qt.many_boxes import ManyBoxesItem
    from detviewer.render.qt.style import rects_path

    t0 = time.perf_counter()
    image, inference = _anchors_inference(args.model, h, w)
    print(f"model + inference: {time.perf_counter() - t0:.1f} s; anchors: {inference.anchor_count:,} "
          f"({', '.join(f'{a.feature_size[0]}x{a.feature_size[1]}' for a in inference.anchors)})")
    frame = anchors_frame(inference, AnchorViewState(level=None, color_by="level"))
    canvas = Canvas()
    canvas.resize(1280, 960)
    canvas.show()
    canvas.set_frame(image)
    app.processEvents()
    if args.budget is not None:
        import detviewer.render.qt.many_boxes as pi

        pi.FRAME_BUDGET_MS = args.budget  # read by the canvas when it shares the budget out

    def repaint() -> float:
        start = time.perf_counter()
        canvas.viewport().repaint()
        return (time.perf_counter() - start) * 1e3

    repaint()  # the frame alone, warm
    start = time.perf_counter()
    canvas.set_layers(frame.layers)
    set_ms = (time.perf_counter() - start) * 1e3
    first = repaint()
    items = [canvas.item(layer.name) for layer in frame.layers]
    drawn, visible = canvas.lod_counts()
    print(f"set_layers: {set_ms:.0f} ms; first paint: {first:.0f} ms (target <= 200; set_layers + paint "
          f"{set_ms + first:.0f} ms); drawn {drawn:,} of {visible:,} boxes in view "
          f"({sum(isinstance(i, ManyBoxesItem) for i in items)} level-of-detail items)")

    view = canvas.view
    pans, zooms = [], []
    for k in range(args.frames):
        view.translateBy(x=3.0 if k % 2 == 0 else -3.0, y=2.0)
        app.processEvents()
        pans.append(repaint())
    canvas.fit()
    for k in range(args.frames):
        view.scaleBy((0.9, 0.9) if k < args.frames // 2 else (1 / 0.9, 1 / 0.9))
        app.processEvents()
        zooms.append(repaint())
    view.setRange(QRectF(200, 150, 120, 90), padding=0)  # zoomed in 5x: every box in view is drawn
    app.processEvents()
    zoomed_in = [repaint() for _ in range(5)]
    drawn_in, visible_in = canvas.lod_counts()

    # Reference: the whole set as one cached path stroked every frame (no level of detail).
    import numpy as np

    boxes = np.concatenate([a.boxes for a in inference.anchors])
    path = rects_path(boxes)
    target = QImage(canvas.viewport().width(), canvas.viewport().height(), QImage.Format.Format_ARGB32_Premultiplied)
    naive = []
    for _ in range(3):
        painter = QPainter(target)
        painter.scale(canvas.viewport().width() / w, canvas.viewport().width() / w)
        pen = QPen(QColor(255, 128, 0))
        pen.setCosmetic(True)
        painter.setPen(pen)
        start = time.perf_counter()
        painter.drawPath(path)
        painter.end()
        naive.append((time.perf_counter() - start) * 1e3)

    med = statistics.median
    print(f"pan frame: median {med(pans):.1f} ms, max {max(pans):.1f} ms (target <= 33)")
    print(f"zoom frame: median {med(zooms):.1f} ms, max {max(zooms):.1f} ms (target <= 33)")
    print(f"zoomed in 5x: median {med(zoomed_in):.1f} ms, drawn {drawn_in:,} of {visible_in:,} boxes in view")
    print(f"reference, one drawPath of all {len(boxes):,} anchors: median {med(naive):.0f} ms "
          f"-> pan frame is {med(naive) / max(med(pans), 1e-6):.1f}x faster")
    canvas.close()


if __name__ == "__main__":
    main()
