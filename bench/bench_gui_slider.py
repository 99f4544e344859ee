"""Slider -> view latency with 10k pre-NMS candidates (target: p95 <= 33 ms, max <= 50 ms: one 30 Hz frame).

Run: .venv/bin/python bench/bench_gui_slider.py [--candidates 10000] [--moves 40]
Drives the real MainWindow (offscreen unless DISPLAY is set) with a detector that returns
N clustered candidates. One "move" = set the IoU (or score) slider to a new value, which
replays NMS on the stored candidates, rebuilds the overlays and the candidate table, then a
synchronous repaint of the canvas. The detector is never called again (checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")


def clustered_candidates(n: int, seed: int = 0, width: int = 1280, height: int = 720):
    """n boxes in n/50 clusters, like a detector's pre-NMS output; xyxy pixels, 10 classes.

    Each cluster is one object: jittered copies of its box (centre +-5 %, size x0.85..1.2 of
    the object's size), 80 % labelled with the object's class and 20 % with a random one.
    """
    rng = np.random.default_rng(seed)
    clusters = max(1, n // 50)
    centre = rng.uniform([50, 50], [width - 50, height - 50], size=(clusters, 2))
    size = rng.uniform(20, 240, size=(clusters, 2))
    cls = rng.integers(1, 11, clusters)
    which = rng.integers(0, clusters, n)
    c = centre[which] + rng.normal(0, 0.05, (n, 2)) * size[which]
    s = size[which] * rng.uniform(0.85, 1.2, (n, 2))
    boxes = np.concatenate([c - s / 2, c + s / 2], axis=1).clip(0, [width, height, width, height]).astype(np.float32)
    scores = rng.uniform(0.05, 1.0, n).astype(np.float32)
    labels = np.where(rng.uniform(size=n) < 0.8, cls[which], rng.integers(1, 11, n)).astype(np.int64)
    return boxes, scores, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.candidates, args.moves = 300, 2

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import detviewer.gui.main_window as main_window
    import detviewer.gui.session as session_module
    from detviewer.core.types import Detections, Inference, NMSParams
    from detviewer.detectors.base import Detector
    from detviewer.gui.worker import ModelRequest
    from detviewer.io.frames import Frame

    boxes, scores, labels = clustered_candidates(args.candidates)
    names = ("__background__",) + tuple(f"class{i}" for i in range(1, 11))

    class ManyBoxes(Detector):
        name, class_names, calls = "many-boxes", names, 0

        def infer(self, image_rgb):
            ManyBoxes.calls += 1
            cand = Detections(boxes, scores, labels, names)
            return Inference("many-boxes", image_rgb.shape[:2], cand, cand, nms=NMSParams(0.5, 0.05))

    from detviewer.ops.nms import nms_trace

    trace_ms: list[float] = []

    def timed_trace(*a, **k):
        start = time.perf_counter()
        out = nms_trace(*a, **k)
        trace_ms.append((time.perf_counter() - start) * 1e3)
        return out

    session_module._nms_trace = timed_trace  # the session's state replays NMS through it
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = main_window.MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat),
                            loader=lambda *a: ManyBoxes(), lister=lambda: [])
        window.resize(1500, 900)
        window.show()
        window.request_model(ModelRequest("many-boxes", "none", "cpu"))
        shown = []
        window.result_shown.connect(shown.append)
        frame = Frame(np.full((720, 1280, 3), 80, np.uint8), "bench")
        window.feed.current_frame = frame
        window.canvas.set_frame(frame.image)
        window.worker.submit(frame, window.feed.generation)
        deadline = time.time() + 120
        while not shown and time.time() < deadline:
            app.processEvents()
            time.sleep(0.005)
        if not shown:
            raise SystemExit("no result within 120 s")
        grid_start = time.perf_counter()
        while window.iou_grid.pending and time.time() < deadline:
            app.processEvents()
            time.sleep(0.005)
        grid_s = time.perf_counter() - grid_start
        grid = window.state._unfiltered  # the prepared replays: how much memory they hold
        grid_mb = sum(sum(getattr(r, f).nbytes for f in ("order", "kept", "suppressor", "suppress_iou", "keep"))
                      for r in grid.values()) / 2 ** 20
        print(f"IoU grid: {len(grid)} unfiltered replays ready {grid_s:.1f} s after the result, {grid_mb:.1f} MB")
        trace_ms.clear()
        window.thresholds_panel.score_slider.setValue(0.05)
        calls = ManyBoxes.calls
        own_ms: list[float] = []

        def measure(action) -> float:
            before = len(trace_ms)
            start = time.perf_counter()
            action()
            window.canvas.viewport().repaint()  # synchronous paint of the new overlays
            window.nms_panel.table.viewport().repaint()
            total = (time.perf_counter() - start) * 1e3
            own_ms.append(total - sum(trace_ms[before:]))
            return total

        ious = np.linspace(0.3, 0.8, args.moves)
        final = [measure(lambda v=v: window.thresholds_panel.iou_slider.setValue(float(v))) for v in ious]
        scores_moves = np.linspace(0.05, 0.5, args.moves)
        score_ms = [measure(lambda v=v: window.thresholds_panel.score_slider.setValue(float(v))) for v in scores_moves]
        window.thresholds_panel.score_slider.setValue(0.05)
        window.state.set_view("nms")
        window.state.set_step(5)
        stepping = [measure(lambda v=v: window.thresholds_panel.iou_slider.setValue(float(v))) for v in ious]
        steps = [measure(lambda: window.state.step_by(1)) for _ in range(args.moves)]
        assert ManyBoxes.calls == calls, "a slider move re-ran the model"
        trace = window.state.replay
        print(f"candidates={args.candidates} passing_score={len(trace.order)} kept={len(trace.keep)} "
              f"detector_calls_during_moves={ManyBoxes.calls - calls}")

        def report(name, values, lo, hi):
            own = sorted(own_ms[lo:hi])
            values = sorted(values)
            p95 = values[int(0.95 * (len(values) - 1))]
            print(f"{name:<36} median {statistics.median(values):6.1f} ms  p95 {p95:6.1f} ms  "
                  f"max {values[-1]:6.1f} ms | without nms_trace: median {statistics.median(own):5.1f} ms "
                  f"p95 {own[int(0.95 * (len(own) - 1))]:5.1f} ms")

        m = args.moves
        report("IoU slider, final view", final, 0, m)
        report("score slider, final view", score_ms, m, 2 * m)
        report("IoU slider, step mode (all faded)", stepping, 2 * m, 3 * m)
        report("NMS step forward, step mode", steps, 3 * m, 4 * m)
        print(f"NMS replays during the moves: {len(trace_ms)} (the IoU grid and the score filter answer the rest)")
        window.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
