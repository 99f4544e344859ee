"""Start-up and end contract: the window module never imports torch; bounded worker shutdown; CLI help; every way
of ending a run (a close before exec, SIGINT / SIGTERM in a slot or idle, an unreachable display) ends it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
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
    assert not thread.shutdown(timeout_ms=300)  # returns while the forward pass is still stuck in the gate
    assert not detector.gate.is_set() and thread.thread.isRunning()
    assert orphaned_threads() == [thread]  # kept alive: destroying a running QThread would abort
    detector.gate.set()
    assert thread.thread.wait(5000)
    assert orphaned_threads() == []
    assert detector.closed


def test_background_shutdown_shares_one_deadline_between_its_threads(qtbot):
    """Both threads are asked to stop before either is waited for, and the second waits only for what is left."""
    from detviewer.gui.background import BackgroundWork

    calls = []

    class StuckThread:
        def __init__(self, name):
            self.name = name

        def request_stop(self):
            calls.append(("stop", self.name))

        def shutdown(self, timeout_ms):
            calls.append(("wait", self.name, timeout_ms))
            time.sleep(timeout_ms / 1000)
            return False

    work = BackgroundWork(loader=lambda *a: None, lister=lambda: [])
    work.threads = [StuckThread("inference"), StuckThread("tasks")]
    assert not work.shutdown(timeout_ms=400)
    assert [c[:2] for c in calls] == [("stop", "inference"), ("stop", "tasks"), ("wait", "inference"),
                                      ("wait", "tasks")]
    assert calls[2][2] <= 400 and calls[3][2] <= 400 - calls[2][2] + 50  # what the first wait left over


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


# -- how a run ends (gui/lifetime.py): closes before exec, signals, an unreachable display ----------------


def _launch_args(tmp_path, *extra: str):
    from detviewer.gui.launch import build_parser

    return build_parser().parse_args(["--settings", str(tmp_path / "s.ini"), *extra])


def _patched_window(monkeypatch, on_show=None, on_exec=None):
    """launch builds this MainWindow: fake detector, and ``on_show(window)`` queued by show(),
    ``on_exec(window)`` by request_model (the last call before exec) instead of loading a model."""
    from PySide6.QtCore import QTimer

    import detviewer.gui.main_window as main_window

    base = main_window.MainWindow

    class Window(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, loader=FakeLoader(), lister=lambda: [], **kwargs)

        def show(self):
            super().show()
            if on_show is not None:
                QTimer.singleShot(0, lambda: on_show(self))

        def request_model(self, request):
            if on_exec is not None:
                QTimer.singleShot(0, lambda: on_exec(self))

    monkeypatch.setattr(main_window, "MainWindow", Window)


def _run_with_watchdog(qapp, args, seconds: float = 20.0):
    """launch.run(args); fails (instead of hanging) if the run has not ended after ``seconds``."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.launch import run

    fired = []

    def watchdog():
        fired.append(True)
        for widget in QApplication.topLevelWidgets():
            widget.close()
        qapp.quit()

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(watchdog)
    timer.start(int(seconds * 1000))
    try:
        rc = run(args)
    finally:
        timer.stop()
    assert not fired, "the run did not end: exec() waited for a close that had already happened"
    return rc


def _saved_geometry(tmp_path) -> bool:
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat).value("window/geometry") is not None


def test_a_close_before_exec_ends_the_run(qapp, monkeypatch, tmp_path):
    """The window closed by the first processEvents() (a window-manager close as it appears)."""
    _patched_window(monkeypatch, on_show=lambda window: window.close())
    assert _run_with_watchdog(qapp, _launch_args(tmp_path)) == 0
    assert _saved_geometry(tmp_path)


def test_a_close_after_the_build_but_before_exec_ends_the_run(qapp, monkeypatch, tmp_path):
    """Ctrl+Q handled by the processEvents() after build(): the worker thread runs and must stop."""
    import detviewer.gui.main_window as main_window

    _patched_window(monkeypatch)
    built = main_window.MainWindow.build

    def build_then_close(self):
        built(self)
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, self.close)

    monkeypatch.setattr(main_window.MainWindow, "build", build_then_close)
    assert _run_with_watchdog(qapp, _launch_args(tmp_path)) == 0
    assert _saved_geometry(tmp_path)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_in_a_running_slot_closes_the_window_and_saves_settings(qapp, monkeypatch, tmp_path, signum, code):
    """The signal arrives inside a slot that keeps running Python code (as _on_result would): no
    KeyboardInterrupt out of it; the window closes once the slot returns, the settings are saved."""
    finished = []

    def busy_slot(_window):
        os.kill(os.getpid(), signum)
        total = sum(range(200_000))  # Python bytecode after the signal: a default handler would raise here
        finished.append(total)

    _patched_window(monkeypatch, on_exec=busy_slot)
    previous = signal.getsignal(signum)
    assert _run_with_watchdog(qapp, _launch_args(tmp_path)) == code
    assert finished == [sum(range(200_000))]
    assert _saved_geometry(tmp_path)
    assert signal.getsignal(signum) is previous  # restored for the host
    assert signal.set_wakeup_fd(-1) == -1  # and the wake-up fd too


def test_sigint_while_idle_ends_the_run(qapp, monkeypatch, tmp_path):
    _patched_window(monkeypatch, on_exec=lambda _window: os.kill(os.getpid(), signal.SIGINT))
    assert _run_with_watchdog(qapp, _launch_args(tmp_path)) == 130
    assert _saved_geometry(tmp_path)


def test_the_destroy_filter_reads_xcb_destroy_notify():
    """Qt hands the event as a shiboken VoidPtr, which is falsy: the filter must read its address."""
    import ctypes

    import shiboken6
    from PySide6.QtCore import QByteArray

    from detviewer.gui.lifetime import _DestroyFilter

    calls = []
    destroy_filter = _DestroyFilter(lambda: 0x400007, lambda: calls.append("destroyed"))

    def event(response_type: int, window: int):
        # xcb_destroy_notify_event_t: response_type, pad, sequence u16, event u32, window u32 (+ padding)
        data = bytes([response_type, 0, 9, 0]) + window.to_bytes(4, "little") * 2 + bytes(20)
        buffer = ctypes.create_string_buffer(data, len(data))
        return buffer, shiboken6.VoidPtr(ctypes.addressof(buffer))

    kind = QByteArray(b"xcb_generic_event_t")
    for response_type, window in ((18, 0x400007), (17, 0x400009), (17 | 0x80, 0x400007)):
        buffer, pointer = event(response_type, window)  # unmap; another window's destroy; ours, sent by a client
        assert destroy_filter.nativeEventFilter(kind, pointer) == (False, 0)
    assert calls == ["destroyed"]


def _free_display() -> str:
    number = 55
    while Path(f"/tmp/.X11-unix/X{number}").exists():
        number += 1
    return f":{number}"


def _env_without_display(display: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
    return dict(env, DISPLAY=display)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display check")
def test_unreachable_display_is_one_sentence_and_exit_2(tmp_path):
    display = _free_display()
    out = subprocess.run([sys.executable, "-m", "detviewer", str(tmp_path / "a.png"), "--settings", str(tmp_path / "s.ini")],
                         capture_output=True, text=True, timeout=120, env=_env_without_display(display))
    assert out.returncode == 2, out.stderr
    assert out.stderr == (f"error: Cannot open the window: no X server accepts a connection at DISPLAY={display} "
                          "(is it running, and may this user connect to it?); --screenshot OUT.png renders "
                          "offscreen instead.\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display check")
def test_unreachable_display_falls_back_to_offscreen_for_screenshots(tmp_path):
    """--exit-after-show takes the --screenshot branch without loading a model."""
    out = subprocess.run([sys.executable, "-m", "detviewer", "--exit-after-show", "--settings", str(tmp_path / "s.ini")],
                         capture_output=True, text=True, timeout=120, env=_env_without_display(_free_display()))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("visible_at=") and out.stderr == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libxcb")
def test_display_check_names_the_problem():
    from detviewer.gui.display_check import x11_display_problem

    free = _free_display()
    assert x11_display_problem(free) == (f"no X server accepts a connection at DISPLAY={free} "
                                         "(is it running, and may this user connect to it?)")
    assert x11_display_problem("garbage") == "DISPLAY=garbage is not an X display name (such as :0 or localhost:10.0)"


def test_signals_ignored_by_the_parent_stay_ignored(qapp):
    """nohup (SIGHUP) and a script's background job (SIGINT) start with the signal ignored."""
    from detviewer.gui.lifetime import RunLifetime

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    lifetime = RunLifetime()
    try:
        lifetime.install_signal_handlers()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # taken over
    finally:
        lifetime.uninstall()
        signal.signal(signal.SIGHUP, previous)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_quit_of_our_own_process_waits_less_for_the_threads(qapp, qtbot):
    """launch's own process (os._exit follows) shuts the window down with quit_wait_ms before closeEvent runs."""
    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import QWidget

    from detviewer.gui.lifetime import RunLifetime

    calls = []

    class Window(QWidget):
        closed = Signal()

        def shutdown(self, timeout_ms: int = 1800) -> bool:
            calls.append(("shutdown", timeout_ms))
            return True

        def closeEvent(self, event):
            calls.append(("closeEvent",))
            super().closeEvent(event)
            self.closed.emit()

    for quit_wait_ms, expected in ((250, [("shutdown", 250), ("closeEvent",)]), (None, [("closeEvent",)])):
        calls.clear()
        window = Window()
        qtbot.addWidget(window)
        window.show()
        lifetime = RunLifetime(quit_wait_ms=quit_wait_ms)
        lifetime.watch(window)
        window.close()
        lifetime.uninstall()
        assert calls == expected and lifetime.ended
