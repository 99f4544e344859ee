"""Per-frame latency in the app ÷ bare model forward, ssdlite320_mobilenet_v3_large on the CPU (target <= 1.05).

Run: .venv/bin/python bench/bench_gui_frame.py [--frames 15] [--size 480x640]
Bare: ``model([tensor])`` under ``torch.inference_mode()`` on the same image, a plain torchvision
model holding a copy of the weights the app loaded (--weights none, seeded), with the same
number of torch threads as the app's worker (cores - 1 unless --threads / DETVIEWER_THREADS).
App: the real MainWindow with the registry's detector; from ``worker.submit(frame)`` until the
window has drawn the result (``result_shown``, emitted after the session replayed NMS and the
overlays were updated). The two are measured alternately in the same process, so machine
load affects both alike; the main figure is the median over back-to-back (bare, app) pairs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
MODEL = "ssdlite320_mobilenet_v3_large"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", default="480x640", help="HxW of the test frame")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: what the app picks, cores - 1; see gui/worker.py)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.frames, args.size = 1, "240x320"
    h, w = (int(v) for v in args.size.split("x"))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    import torch
    import torchvision
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest
    from detviewer.io.streams import SyntheticSource

    app = QApplication.instance() or QApplication([])
    frame = SyntheticSource(w, h).read(3)
    tensor = torch.from_numpy(frame.image).permute(2, 0, 1).float().div(255)

    def bare_forward() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            bare([tensor])
        return (time.perf_counter() - start) * 1e3

    held, threads = [], []

    def loader(name, weights, device, progress):
        # The registry's detector, as the app loads it, kept here to copy its weights (runs in the worker thread).
        from detviewer.detectors.registry import load_detector
        from detviewer.detectors.threads import configure_torch_threads

        threads.append(configure_torch_threads(args.threads or None))
        held.append(load_detector(name, weights=weights, device=device, progress=progress))
        return held[-1]

    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat), loader=loader)
        window.resize(1400, 860)
        window.show()
        loaded = []
        window.model_ready.connect(loaded.append)
        window.model_failed.connect(lambda m: (_ for _ in ()).throw(SystemExit(m)))
        torch.manual_seed(0)  # random weights: the speed of an untrained net depends on them
        window.request_model(ModelRequest(MODEL, "none", "cpu"))
        while not loaded:
            app.processEvents()
            time.sleep(0.01)
        # The bare model gets the app's very weights (a copy: the app's module carries capture hooks).
        detector = held[-1]
        bare = getattr(torchvision.models.detection, MODEL)(
            weights=None, weights_backbone=None, num_classes=len(detector.class_names)).eval()
        bare.load_state_dict(detector.model.state_dict())
        torch.set_num_threads(threads[-1])  # the bare forward runs with the worker's thread count
        shown: list[float] = []
        starts: list[float] = []
        results: list = []
        window.result_shown.connect(lambda r: (shown.append(time.perf_counter()), results.append(r)))

        loop = QEventLoop()
        window.result_shown.connect(lambda r: loop.quit())

        def app_frame() -> float:
            # Block in an event loop (no polling: a busy GUI thread would steal a core from torch).
            window.feed.current_frame = frame
            start = time.perf_counter()
            starts.append(start)
            window.worker.submit(frame, window.feed.generation)
            loop.exec()
            return (shown[-1] - start) * 1e3

        for _ in range(1 if args.smoke else 3):  # warm-up: first runs allocate and tune
            bare_forward()
            app_frame()
        bare_ms, app_ms = [], []
        first = len(results)
        for _ in range(args.frames):
            bare_ms.append(bare_forward())
            app_ms.append(app_frame())
        window.shutdown()  # the worker is idle: every frame was waited for
        measured = results[first:]
        infer_ms = statistics.median(r.infer_ms for r in measured)
        worker_ms = statistics.median(r.latency_ms for r in measured)
        candidates = len(measured[-1].inference.candidates)
        drawn, submitted = shown[-len(measured):], starts[-len(measured):]
        gui_ms = statistics.median((t - (s + r.latency_ms / 1e3)) * 1e3 for t, s, r in zip(drawn, submitted, measured))
        wait_ms = statistics.median(r.latency_ms - r.infer_ms for r in measured)

    b, a = statistics.median(bare_ms), statistics.median(app_ms)
    print(f"model={MODEL} frame={h}x{w} device=cpu torch_threads={torch.get_num_threads()} frames={args.frames}")
    print(f"bare forward   median {b:7.1f} ms  (min {min(bare_ms):.1f})")
    print(f"app per frame  median {a:7.1f} ms  (min {min(app_ms):.1f})  submit -> drawn in the window")
    print(f"  of which detector.infer (adapter: forward + captured internals) median {infer_ms:.1f} ms; "
          f"submit -> result ready in the worker {worker_ms:.1f} ms; {candidates} pre-NMS candidates per frame")
    print(f"  app overhead: inbox hand-off {wait_ms:.1f} ms + signal and drawing in the window {gui_ms:.1f} ms")
    pairs = sorted(x / y for x, y in zip(app_ms, bare_ms))
    print(f"ratio app / bare: median of {len(pairs)} back-to-back pairs {statistics.median(pairs):.3f}, "
          f"of medians {a / b:.3f}, of minima {min(app_ms) / min(bare_ms):.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
