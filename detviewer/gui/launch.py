"""``detviewer [PATH ...] [--model NAME] ...``: open the window first, then load the model in the background.

Nothing here (or in what the window imports) imports torch: the worker thread does that while
the window is already on screen.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QMessageLogContext, QSettings, QTimer, QtMsgType
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.lifetime import RunLifetime
    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest

__all__ = ["BUILD_IMPORTS", "build_parser", "run"]

#: How long a quit waits for the background threads when the process ends right after (see lifetime);
#: a thread inside an import is not waited for (gui.background).
QUIT_WAIT_MS = 500

#: What ``MainWindow.build`` imports (seconds while the worker imports torch): imported on a daemon thread
#: while the GUI thread keeps handling events, so that a close during start-up ends the run at once. A module
#: missing here is imported by the build itself, as before.
BUILD_IMPORTS = ("pyqtgraph", "superqt", "detviewer.gui.canvas", "detviewer.gui.presenter", "detviewer.gui.lecture",
                 "detviewer.gui.stepping", "detviewer.gui.panels.nms_panel", "detviewer.gui.panels.thresholds_panel",
                 "detviewer.gui.panels.views_panel", "detviewer.gui.workspace.dock")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detviewer", description="Open the detviewer window on images, folders, a video or a camera.")
    parser.add_argument("--help-gui", action="help", help="show this message and exit")
    parser.add_argument("paths", nargs="*", help="image files, folders or one video file")
    parser.add_argument("--model", default=None, help="detector name (see 'detviewer models'); default: the demo model")
    parser.add_argument("--weights", default=None, help="default, coco, none, or a checkpoint file")
    parser.add_argument("--device", default=None, help="auto, cpu or cuda")
    parser.add_argument("--camera", type=int, default=None, metavar="N", help="open webcam N")
    parser.add_argument("--screenshot", default=None, metavar="OUT.png",
                        help="wait for the first result, save an image of the window and exit")
    parser.add_argument("--nms-step", type=int, default=None, metavar="N",
                        help="with --screenshot: show the NMS stepper at step N")
    parser.add_argument("--score", type=float, default=None, help="score threshold for this run (0..1)")
    parser.add_argument("--iou", type=float, default=None, help="NMS IoU threshold for this run (0..1)")
    parser.add_argument("--timeout", type=float, default=300.0, help=argparse.SUPPRESS)
    parser.add_argument("--size", default=None, metavar="WxH", help="window size, e.g. 1400x860")
    parser.add_argument("--settings", default=None, help=argparse.SUPPRESS)  # an .ini file instead of the user's
    parser.add_argument("--exit-after-show", action="store_true", help=argparse.SUPPRESS)  # startup benchmark
    parser.add_argument("--close-after-show", type=float, default=None, metavar="MS",  # start-up close test
                        help=argparse.SUPPRESS)
    return parser


def _initial_request(args: argparse.Namespace, settings: QSettings) -> ModelRequest:
    from detviewer.gui.settings import load_model_request
    from detviewer.gui.worker import ModelRequest

    saved = load_model_request(settings)
    if args.model is None and args.weights is None and args.device is None:
        return saved
    return ModelRequest(
        name=args.model or saved.name,
        weights=args.weights or ("default" if args.model else saved.weights),
        device=args.device or saved.device,
    )


def _choose_platform(args: argparse.Namespace) -> None:
    """Before the QApplication exists: make sure Qt has a display it can open, since it aborts the
    process otherwise (SIGABRT, "Reinstalling the application may fix this problem").

    No display, or an X display that cannot be reached: ``--screenshot`` (and the start-up
    benchmark) render offscreen; opening the window is a DetviewerError (one sentence).
    """
    from detviewer.errors import DetviewerError

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return  # Qt picks Wayland (or falls back to X) itself
    display = os.environ.get("DISPLAY")
    if display:
        from detviewer.gui.display_check import x11_display_problem

        problem = x11_display_problem(display)
    else:
        problem = "no display is set (DISPLAY is empty)"
    if problem is None:
        return
    if not (args.screenshot or args.exit_after_show):
        raise DetviewerError(f"Cannot open the window: {problem}; --screenshot OUT.png renders offscreen instead.")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _quiet_offscreen_warnings() -> None:
    """The offscreen plugin warns about every dock widget; keep stderr for real messages."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def _check_args(args: argparse.Namespace) -> tuple[int, int] | None:
    """Validate what argparse cannot (before any window exists); returns the --size as (w, h)."""
    from detviewer.errors import DetviewerError

    for name in ("score", "iou"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise DetviewerError(f"--{name} {value} is outside 0..1.")
    if not args.size:
        return None
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise DetviewerError(f"--size {args.size!r} is not WIDTHxHEIGHT, e.g. 1400x860.") from None
    return w, h


def run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QCoreApplication

    from detviewer.gui.lifetime import RunLifetime

    size = _check_args(args)
    owns_app = QCoreApplication.instance() is None  # else a host application (pytest-qt) keeps running
    if owns_app:
        from detviewer.gui.background import exit_after_shutdown, preload_torch_first

        preload_torch_first()  # the worker imports torch once its C++ libraries are loaded without the GIL
        exit_after_shutdown()  # os._exit follows the window: a thread stuck in an import is not waited for
    lifetime = RunLifetime(quit_wait_ms=QUIT_WAIT_MS if owns_app else None)
    lifetime.install_signal_handlers()  # first: a signal during start-up ends the run quietly too
    try:
        return _run_app(args, size, lifetime, owns_app)
    finally:
        lifetime.uninstall()


def _run_app(args: argparse.Namespace, size: tuple[int, int] | None, lifetime: RunLifetime, owns_app: bool) -> int:
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.settings import APPLICATION, ORGANIZATION

    if owns_app:
        _choose_platform(args)
        if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
            _quiet_offscreen_warnings()  # only in our own process: a host (pytest-qt) keeps its handler
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # Quit through our window's ``closed`` signal only: "last window closed" posts a Quit event
    # even when no event loop runs (our error paths), which a host application would receive.
    quit_on_last = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    try:
        rc = _run(app, args, size, lifetime)
    finally:
        app.setQuitOnLastWindowClosed(quit_on_last)
    if owns_app:
        # Settings are saved and the threads stopped (or orphaned: a model forward cannot be
        # interrupted): leave now. Python's own finalization walks torch's module graph for ~2 s
        # here, and would destroy a still-running QThread, which aborts. A host application
        # (pytest-qt) keeps its process, and any orphaned thread in worker._ORPHANS.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


def _run(app: QApplication, args: argparse.Namespace, size: tuple[int, int] | None, lifetime: RunLifetime) -> int:
    """Show the window, run the event loop; the exit code (128 + signal when a signal ended the run)."""
    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.settings import open_settings

    window = MainWindow(settings=open_settings(args.settings), defer_build=True)
    try:
        rc = _show_and_exec(app, window, args, size, lifetime)
    finally:
        window.shutdown()  # done by the close already, unless an error cut the run short
    return lifetime.signal_exit_code if lifetime.signal_exit_code is not None else rc


def _show_and_exec(app: QApplication, window: MainWindow, args: argparse.Namespace, size: tuple[int, int] | None,
                   lifetime: RunLifetime) -> int:
    from PySide6.QtCore import Qt, QTimer

    from detviewer.errors import DetviewerError
    from detviewer.gui.background import start_torch_preload

    if size is not None:
        window.resize(*size)
    window.show()
    lifetime.watch(window)  # before any event is processed: a close from now on ends the run
    app.processEvents()
    if lifetime.ended:  # closed (window manager, signal) as it appeared
        return 0
    visible_at = time.time()
    start_torch_preload()  # now that the window is up: then the worker imports torch (gui.background)
    if args.close_after_show is not None:  # start-up benchmark / test: "the user closes it now"
        close_at = visible_at + args.close_after_show / 1000

        def close_now() -> None:
            print(f"close_requested_at={close_at:.6f} closed_at={time.time():.6f}", flush=True)
            window.close()

        close_timer = QTimer(window)
        close_timer.setSingleShot(True)
        close_timer.setTimerType(Qt.TimerType.PreciseTimer)
        close_timer.timeout.connect(close_now)
        close_timer.start(max(0, int(args.close_after_show)))
    if not _build_responsively(app, window, lifetime):
        return 0  # closed while the build's imports ran
    app.processEvents()
    if args.exit_after_show:
        print(f"visible_at={visible_at:.6f} built_at={time.time():.6f} torch_imported={'torch' in sys.modules}",
              flush=True)
        window.close()
        return 0
    if lifetime.ended:
        return 0

    result = {"rc": 0}
    deadline = QTimer(window)
    deadline.setSingleShot(True)
    window.session.score_from_user = args.score is not None  # else the model's display threshold
    if args.screenshot:  # the same command gives the same picture: not the sliders of the last session
        from dataclasses import asdict

        from detviewer.state.nms_replay import Thresholds

        window.state.set_thresholds(**asdict(Thresholds()))
    window.state.set_thresholds(**{name: value for name, value in (("score", args.score), ("iou", args.iou))
                                   if value is not None})
    if args.screenshot:
        _arm_screenshot(window, args, deadline, result)

    # Open what was asked (or the demo images), then start loading the model.
    opened = open_initial(window, args)
    if args.screenshot and args.paths and not opened:
        message = window.status.message_text()  # the one sentence the feed reported
        window.close()
        raise DetviewerError(message)
    if not lifetime.ended:
        window.request_model(_initial_request(args, window.settings))
    exec_rc = lifetime.exec()  # 1 when the X11 connection broke ("Did the X11 server die?")
    deadline.stop()
    return result["rc"] or (1 if exec_rc else 0)


def _build_responsively(app: QApplication, window: MainWindow, lifetime: RunLifetime) -> bool:
    """``window.build()`` once BUILD_IMPORTS are imported by a daemon thread; meanwhile the GUI thread handles
    events every 20 ms, so that a close is seen at once. False when the run ended before the build: the process
    then exits without waiting for the imports (a thread inside an import cannot be stopped; os._exit follows)."""
    imported = threading.Event()

    def prefetch() -> None:
        try:
            for name in BUILD_IMPORTS:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - the build imports it again and reports what is wrong
                    break
        finally:
            imported.set()

    threading.Thread(target=prefetch, name="build-imports", daemon=True).start()
    while not imported.wait(0.02):  # the GIL is released while waiting
        app.processEvents()
        if lifetime.ended:
            return False
    window.build()
    return not lifetime.ended


def open_initial(window: MainWindow, args: argparse.Namespace) -> bool:
    """Open the camera, the paths given, or (no argument) the bundled demo with its ground truth; False
    when the paths given could not be opened."""
    if args.camera is not None:
        return window.open_camera(args.camera)
    if args.paths:
        return window.open_paths(args.paths)
    from detviewer.resources import demo_images

    demos = demo_images()
    return bool(demos) and window.open_paths(demos, remember=False)  # the demo at its best: with ground truth


def _arm_screenshot(window: MainWindow, args: argparse.Namespace, deadline: QTimer, result: dict) -> None:
    """Save the window after the first result; give up (rc 1) after ``args.timeout`` seconds."""
    window.screenshot_on_first_result(args.screenshot, nms_step=args.nms_step)

    def done(ok: bool, message: str) -> None:
        if message:
            print(f"error: {message}", file=sys.stderr)
        result["rc"] = 0 if ok else 1
        if ok:
            print(f"saved {args.screenshot}")

    window.screenshot_done.connect(done)

    def give_up() -> None:
        print(f"error: no result within {args.timeout:.0f} s; no screenshot saved.", file=sys.stderr)
        result["rc"] = 1
        window.close()

    deadline.timeout.connect(give_up)
    deadline.start(int(args.timeout * 1000))
