"""Closing the window during start-up ends the process at once (issue 21): the GUI thread keeps handling events
while the build's imports run on a daemon thread, and a thread stuck in an import (torch, on the worker) is
not waited for, since os._exit follows; the settings are saved all the same."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The issue's goal is 1 s from the close to the process' end. What is left is the GIL held by the worker's
#: dlopen of libtorch (0.3 s on an idle machine, up to 1.4 s measured at a load average of 12 on 2 cores, where
#: the close waited 7-9 s before): a shared test machine gets that margin.
LIMIT_S = 2.5


def _close_after_show(tmp_path, ms: float) -> tuple[float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    settings = tmp_path / "s.ini"
    proc = subprocess.Popen([sys.executable, "-m", "detviewer", "--settings", str(settings), "--close-after-show",
                             str(ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    out, err = proc.communicate(timeout=180)
    ended = time.time()
    assert proc.returncode == 0, err
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    assert "close_requested_at" in fields, f"the window was never closed: {out!r} {err!r}"
    assert "[window]" in settings.read_text() and "geometry=" in settings.read_text(), "settings not saved"
    return ended - float(fields["close_requested_at"]), err


@pytest.mark.slow
@pytest.mark.parametrize("ms", [0, 800])
def test_closing_the_window_during_start_up_ends_the_process_at_once(tmp_path, ms):
    """0 ms: as it appears (the build's imports run); 800 ms: while the worker imports torch."""
    took, err = _close_after_show(tmp_path, ms)
    assert took <= LIMIT_S, f"{took:.2f} s from the close to the end of the process (stderr: {err[-300:]})"


class _SlowImporter:
    """A worker whose ``run`` is inside an import that takes 3 s (as torch's does)."""

    def __init__(self, folder: Path) -> None:
        (folder / "slow_module_for_test.py").write_text("import time\ntime.sleep(3)\n")
        self.started = threading.Event()

    def run(self) -> None:
        self.started.set()
        import slow_module_for_test  # noqa: F401


def test_a_thread_inside_an_import_is_seen_as_such(tmp_path, monkeypatch):
    from detviewer.gui.background import inside_import

    monkeypatch.syspath_prepend(str(tmp_path))
    worker = _SlowImporter(tmp_path)
    thread = threading.Thread(target=worker.run, daemon=True)
    assert not inside_import(worker)
    thread.start()
    worker.started.wait(5)
    deadline = time.monotonic() + 2
    while not inside_import(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert inside_import(worker)
    thread.join(10)
    assert not inside_import(worker)


def test_torch_libraries_preload_without_importing_torch_or_holding_the_gil():
    """In a fresh process: libtorch_cpu.so is mapped, torch is not imported, and a Python thread kept ticking
    (the GIL was free) while it loaded."""
    code = """
import sys, threading, time
from detviewer.gui.native_preload import preload_torch_libraries
gaps, stop = [], []
def tick():
    last = time.perf_counter()
    while not stop:
        time.sleep(0.005)
        now = time.perf_counter(); gaps.append(now - last); last = now
ticker = threading.Thread(target=tick); ticker.start(); time.sleep(0.05)
loader = preload_torch_libraries()
loader.join()
stop.append(1); ticker.join()
maps = open("/proc/self/maps").read()
print("libtorch_cpu.so" in maps, "torch" in sys.modules, len(gaps), max(gaps))
"""
    if sys.platform != "linux":
        pytest.skip("the preload is Linux-only")
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    mapped, imported, ticks, worst = out.stdout.split()
    assert (mapped, imported) == ("True", "False"), out.stderr
    assert int(ticks) > 10 and float(worst) < 0.25, f"the GUI thread would have waited {float(worst):.2f} s"
