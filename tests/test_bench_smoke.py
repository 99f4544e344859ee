"""Benchmarks can't rot: every bench/bench_*.py runs in its smoke mode (smallest sizes, a few seconds, no timing
asserted) in a subprocess with this tree's detviewer, and must exit 0. New benchmarks are picked up by the glob."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = sorted((ROOT / "bench").glob("bench_*.py"))
# What a benchmark needs beyond the Python environment (the quit stress starts its own X server).
NEEDS = {"bench_quit_stress.py": ("Xvfb", "xdotool", "openbox")}


def test_there_are_benchmarks() -> None:
    assert len(BENCHES) >= 10, BENCHES


@pytest.mark.slow
@pytest.mark.parametrize("script", BENCHES, ids=[p.stem for p in BENCHES])
def test_bench_runs_in_smoke_mode(script: Path, tmp_path: Path) -> None:
    missing = [tool for tool in NEEDS.get(script.name, ()) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{script.name} needs {', '.join(missing)}")
    env = dict(os.environ, DETVIEWER_BENCH_SMOKE="1", QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{script.name} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{script.name} printed nothing"
