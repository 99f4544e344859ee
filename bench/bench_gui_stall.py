"""Longest GUI-thread stall while the window does three heavy things (the goal: nothing over 16 ms).

A 1 ms heartbeat timer on the GUI thread records the gaps between its ticks: the longest gap is the longest
time the window could not paint (on this 2-core VM a gap also holds waits for a core and for the GIL while
background threads run: 5-10 ms even for an idle loop next to one busy thread); the GUI thread's CPU time
between two ticks is the work that ran on it. Scenarios, real window offscreen:
  open-24mp    open a 6000×4000 JPEG (decode, first paint) with demo-frcnn loaded, until its result is shown;
  regression   switch to the box-regression view on fasterrcnn_resnet50_fpn (random weights; 200k anchors
               decoded), until the view is drawn;
  export-nms   File → Export NMS steps of the demo image with demo-frcnn, until the files are written.

Usage: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stall.py [--scenarios a,b] [--runs 3]
Works on this tree and on older ones (PYTHONPATH=/path/to/old/checkout), to report before / after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo" / "shapes_7_00000.png"
SMOKE = {"big_image": (6000, 4000), "regression_model": ("fasterrcnn_resnet50_fpn", "none")}  # --smoke shrinks them


class Heartbeat:
    """Records the longest gap between 1 ms ticks of a GUI-thread timer (wall clock: what the user waits), and
    the most CPU the GUI thread used between two ticks (``time.thread_time``: the work that ran on it, without
    the time it waited for a core or for the GIL)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.longest = self.longest_cpu = 0.0

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.longest = max(self.longest, now - self.last)
        self.longest_cpu = max(self.longest_cpu, cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def start(self) -> None:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.longest = self.longest_cpu = 0.0
        self.timer.start()

    def stop(self) -> float:
        """The longest gap, ms; ``longest_cpu`` (ms) is set too."""
        self.timer.stop()
        self._tick()
        self.longest_cpu *= 1000
        return self.longest * 1000


def wait_until(app, condition, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the scenario did not finish")
        app.processEvents()
        time.sleep(0.001)


def settle(app, seconds: float = 0.5) -> None:
    """Let the work left from the step before (a table laying out its rows, the IoU grid) finish: a user acts
    on a result some time after it appears, and the scenario measures the action, not the arrival."""
    deadline = time.perf_counter() + seconds
    wait_until(app, lambda: time.perf_counter() >= deadline)


def make_window(model: str, weights: str, settings: str):
    from PySide6.QtCore import QSettings

    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest

    window = MainWindow(settings=QSettings(settings, QSettings.Format.IniFormat))
    window.resize(1400, 860)
    window.show()
    loaded = []
    window.model_ready.connect(loaded.append)
    window.request_model(ModelRequest(model, weights, "cpu"))
    return window, loaded


def open_and_wait(app, window, path: str) -> None:
    shown = []
    window.result_shown.connect(lambda r: shown.append(r) if r.inference is not None else None)
    window.open_paths([path])
    wait_until(app, lambda: bool(shown))


def set_view(window, name: str) -> None:
    if hasattr(window, "state"):
        window.state.set_view(name)
    else:  # before the view state existed
        window.views_panel.set_view(name)


def view_drawn(window, name: str) -> bool:
    if hasattr(window, "presenter"):
        return window.presenter.shown.view == name and window.presenter.shown.frame is not None
    return window.views.view == name and window.views.frame is not None


def scenario_open_24mp(app, heartbeat, tmp: Path) -> float:
    import cv2

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (400, 600, 3), dtype=np.uint8)
    big = cv2.resize(small, SMOKE["big_image"], interpolation=cv2.INTER_CUBIC)
    path = tmp / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    window, loaded = make_window("demo-frcnn", "default", str(tmp / "s.ini"))
    wait_until(app, lambda: bool(loaded))
    settle(app)
    heartbeat.start()
    open_and_wait(app, window, str(path))
    stall = heartbeat.stop()
    window.close()
    return stall


def scenario_regression(app, heartbeat, tmp: Path) -> float:
    window, loaded = make_window(*SMOKE["regression_model"], str(tmp / "s.ini"))
    wait_until(app, lambda: bool(loaded))
    open_and_wait(app, window, str(DEMO))
    if hasattr(window, "state"):  # explain the best detection: its anchor is found among all 200k decoded
        window.state.set_picked(0, "regression")
    else:
        window.views._picked["regression"] = 0
    settle(app)
    heartbeat.start()
    set_view(window, "regression")
    wait_until(app, lambda: view_drawn(window, "regression"))
    stall = heartbeat.stop()
    window.close()
    return stall


def scenario_export_nms(app, heartbeat, tmp: Path) -> float:
    window, loaded = make_window("demo-frcnn", "default", str(tmp / "s.ini"))
    wait_until(app, lambda: bool(loaded))
    open_and_wait(app, window, str(DEMO))
    out = tmp / "steps"
    out.mkdir()
    settle(app)
    heartbeat.start()
    from detviewer.gui import export_dialogs

    if hasattr(export_dialogs, "nms_step_frames"):
        window.exporter.export_nms_dialog(str(out))
        wait_until(app, lambda: any("Exported" in m.text for m in window.messages.messages))
    else:  # before the task runner: the export ran in the slot
        export_dialogs.export_nms_steps(window, out)
    stall = heartbeat.stop()
    window.close()
    return stall


SCENARIOS = {"open-24mp": scenario_open_24mp, "regression": scenario_regression, "export-nms": scenario_export_nms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
        SMOKE.update(big_image=(600, 400), regression_model=("demo-frcnn", "default"))
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    heartbeat = Heartbeat()
    import detviewer

    print(f"detviewer from {Path(detviewer.__file__).parent}; longest GUI-thread stall, ms (median of {args.runs})")
    print("  gap: longest wall-clock gap between ticks; cpu: most GUI-thread CPU between two ticks")
    for name in args.scenarios.split(","):
        stalls, cpus = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                stalls.append(SCENARIOS[name](app, heartbeat, Path(tmp)))
            cpus.append(heartbeat.longest_cpu)
        print(f"{name:12s} gap median {statistics.median(stalls):6.1f} max {max(stalls):6.1f} "
              f"({', '.join(f'{s:.0f}' for s in stalls)})   cpu median {statistics.median(cpus):6.1f} "
              f"max {max(cpus):6.1f} ({', '.join(f'{s:.0f}' for s in cpus)})", flush=True)


if __name__ == "__main__":
    main()
