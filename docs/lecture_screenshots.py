"""Screenshots of the real window in F11 lecture mode, full screen under a window manager.

Run under an X server with a window manager, e.g. (Debian: apt-get install xvfb openbox):
  xvfb-run -s "-screen 0 1920x1080x24" sh -c 'openbox & sleep 1; .venv/bin/python docs/lecture_screenshots.py'
Writes OUT/<k>_<view>.png (default /tmp/lecture-shots): the whole screen after each view is chosen and
stepped twice with the Right key, as a lecturer would.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", default="nms,anchors,roi,regression,default-boxes,map")
    parser.add_argument("--model", default="demo-frcnn")
    parser.add_argument("--out", type=Path, default=Path("/tmp/lecture-shots"))
    args = parser.parse_args()
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from detviewer.gui.main_window import MainWindow
    from detviewer.gui.worker import ModelRequest

    app = QApplication([])
    window = MainWindow(settings=QSettings(f"{tempfile.mkdtemp()}/s.ini", QSettings.Format.IniFormat))
    window.show()

    def spin(seconds: float, until=None) -> None:
        end = time.time() + seconds
        while time.time() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.01)

    loaded = []
    window.model_ready.connect(loaded.append)
    window.request_model(ModelRequest(args.model, "default", "cpu"))
    spin(120, lambda: bool(loaded))
    window.open_paths([str(ROOT / "assets" / "demo")])
    spin(60, lambda: window.state.inference is not None)
    window.lecture.toggle()  # F11
    spin(1.5)
    args.out.mkdir(parents=True, exist_ok=True)
    for k, view in enumerate(args.views.split(",")):
        window.state.set_view(view)
        spin(2.0)
        for _ in range(2):
            QTest.keyClick(window, Qt.Key.Key_Right)
            spin(0.8)
        QGuiApplication.primaryScreen().grabWindow(0).save(str(args.out / f"{k}_{view}.png"))
    print(f"full screen: {window.isFullScreen()}, {window.width()}x{window.height()}; wrote {args.out}")
    window.close()


if __name__ == "__main__":
    main()
