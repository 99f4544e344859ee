"""First result on screen after launch, against the import floor, measured in the same run.

The floor: a fresh Python importing torch, torchvision and PySide6.QtWidgets (what any first result needs).
The app: ``detviewer IMAGE --screenshot OUT`` (demo image, demo-frcnn), from process start until the
screenshot of the first result is written. Runs alternate, so a busy machine slows both alike.

Usage: .venv/bin/python bench/bench_first_result.py [--runs 5]   (goal: app ≤ 1.2 × floor)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = Path(__file__).resolve().parents[1] / "assets" / "demo" / "shapes_7_00000.png"
FLOOR = "import torch, torchvision; from PySide6 import QtWidgets"


def _timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="demo-frcnn")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    floor, app = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.runs):
            floor.append(_timed([sys.executable, "-c", FLOOR], env))
            out = Path(tmp) / f"shot{k}.png"
            app.append(_timed([sys.executable, "-m", "detviewer", str(IMAGE), "--model", args.model, "--device", "cpu",
                               "--screenshot", str(out), "--settings", str(Path(tmp) / "s.ini")], env))
    f, a = statistics.median(floor), statistics.median(app)
    print(f"import floor (torch + torchvision + PySide6.QtWidgets): median {f:.2f} s  ({', '.join(f'{v:.2f}' for v in floor)})")
    print(f"first result saved (--screenshot, {args.model}):        median {a:.2f} s  ({', '.join(f'{v:.2f}' for v in app)})")
    print(f"ratio {a / f:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
