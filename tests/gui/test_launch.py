"""Start-up contract: the window module never imports torch; bounded worker shutdown; CLI help."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from gui_fakes import FakeDetector, FakeLoader

NO_TORCH = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from detviewer.gui.launch import build_parser
from detviewer.gui.main_window import MainWindow
from PySide6.QtCore import QSettings
w = MainWindow(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), loader=lambda *a: None, lister=lambda: [])
w.show(); app.processEvents()
print("torch" in sys.modules, "torchvision" in sys.modules)
w.shutdown()
"""


def test_building_and_showing_the_window_does_not_import_torch(tmp_path):
    out = subprocess.run([sys.executable, "-c", NO_TORCH, str(tmp_path / "s.ini")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_shutdown_is_bounded_even_if_the_forward_pass_is_stuck(qtbot):
    from detviewer.gui.worker import InferenceWorker, ModelRequest, WorkerThread, orphaned_threads
    from detviewer.io.streams import SyntheticSource

    detector = FakeDetector()
    detector.gate = threading.Event()
    worker = InferenceWorker(loader=FakeLoader(detector), lister=lambda: [])
    thread = WorkerThread(worker)
    thread.start()
    worker.request_model(ModelRequest("fake", "none", "cpu"))
    worker.submit(SyntheticSource(32, 24).read(0))
    assert detector.started.wait(5)
    start = time.perf_counter()
    assert not thread.shutdown(timeout_ms=300)  # the forward pass cannot be interrupted
    assert time.perf_counter() - start < 1.0
    assert orphaned_threads() == [thread]  # kept alive: destroying a running QThread would abort
    detector.gate.set()
    assert thread.thread.wait(5000)
    assert orphaned_threads() == []
    assert detector.closed


def test_help_gui_and_bad_size(capsys, tmp_path):
    from detviewer.cli import main

    assert main(["--help-gui"]) == 0
    assert "--screenshot" in capsys.readouterr().out
    assert main(["--size", "big", "--settings", str(tmp_path / "s.ini"), "--exit-after-show"]) == 2
    assert capsys.readouterr().err.strip() == "error: --size 'big' is not WIDTHxHEIGHT, e.g. 1400x860."


def test_window_layout_survives_a_restart_with_deferred_build(qtbot, settings):
    """launch shows the window first and builds it after; the saved dock layout must still apply."""
    from detviewer.gui.main_window import MainWindow

    widths = []
    for _ in range(2):
        window = MainWindow(settings=settings, loader=FakeLoader(), lister=lambda: [], defer_build=True)
        qtbot.addWidget(window)
        window.resize(1400, 860)
        window.show()
        window.build()
        qtbot.wait(20)
        widths.append((window.canvas.width(), [d.width() for d in window.docks]))
        assert window.shutdown()
    assert widths[1] == widths[0]
    assert widths[1][0] > 600


def test_screenshot_of_a_missing_file_is_a_usage_error(capsys, tmp_path):
    from detviewer.cli import main

    rc = main([str(tmp_path / "missing.png"), "--screenshot", str(tmp_path / "out.png"),
               "--settings", str(tmp_path / "s.ini")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "missing.png" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.png").exists()
    assert main(["--score", "1.5", "--settings", str(tmp_path / "s.ini")]) == 2
    assert capsys.readouterr().err.strip() == "error: --score 1.5 is outside 0..1."
