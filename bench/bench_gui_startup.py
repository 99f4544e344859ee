"""Window-visible time: from starting ``python -m detviewer`` to the main window shown (torch not yet imported).

Run: .venv/bin/python bench/bench_gui_startup.py [--runs 5]
Uses the platform in QT_QPA_PLATFORM (offscreen if unset and there is no DISPLAY).
The app prints the wall-clock time right after ``window.show()`` and one processed event loop pass
(visible), and again once the canvas and panels are built (pyqtgraph and superqt imported).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one_run(settings: str) -> tuple[float, float, str]:
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "detviewer", "--exit-after-show", "--settings", settings],
                         capture_output=True, text=True, env=env, timeout=60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("visible_at=")), None)
    if line is None:
        raise SystemExit(f"no visible_at line; stdout={out.stdout!r} stderr={out.stderr!r}")
    fields = dict(kv.split("=") for kv in line.split())
    return float(fields["visible_at"]) - start, float(fields["built_at"]) - start, fields["torch_imported"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("DETVIEWER_BENCH_SMOKE") == "1",
                        help="smallest sizes, a few seconds, numbers meaningless: the script still runs "
                             "(tests/test_bench_smoke.py; also DETVIEWER_BENCH_SMOKE=1)")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = os.path.join(tmp, "settings.ini")
        if not args.smoke:
            one_run(settings)  # warm the file cache
        times, built = [], []
        for _ in range(args.runs):
            seconds, built_seconds, torch_imported = one_run(settings)
            times.append(seconds)
            built.append(built_seconds)
    print(f"platform={os.environ.get('QT_QPA_PLATFORM') or ('xcb' if os.environ.get('DISPLAY') else 'offscreen')} "
          f"runs={args.runs} torch_imported_at_show={torch_imported}")
    print(f"window visible: median {statistics.median(times) * 1e3:.0f} ms, min {min(times) * 1e3:.0f} ms, "
          f"max {max(times) * 1e3:.0f} ms (target <= 1000 ms)")
    print(f"canvas and panels built: median {statistics.median(built) * 1e3:.0f} ms, min {min(built) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
