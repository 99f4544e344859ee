"""Shared helpers of the teaching-view GUI tests: a real MainWindow running the shipped demo-frcnn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_IMAGE = Path(__file__).resolve().parents[2] / "assets" / "demo" / "shapes_7_00000.png"


def demo_window(make_window, qtbot):
    """A shown MainWindow with demo-frcnn loaded and DEMO_IMAGE's result on screen."""
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000,
                          check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(DEMO_IMAGE)])
    return window


def show_view(qtbot, window, name: str) -> None:
    """Switch to view ``name`` and wait until it is drawn (anchors are built in the background first)."""
    window.state.set_view(name)
    qtbot.waitUntil(lambda: window.presenter.shown.view == name and window.presenter.shown.frame is not None,
                    timeout=10000)


def to_array(qimage) -> np.ndarray:
    from PySide6.QtGui import QImage

    qimage = qimage.convertToFormat(QImage.Format.Format_RGB888)
    buf = np.frombuffer(qimage.constBits(), np.uint8, count=qimage.sizeInBytes())
    return buf.reshape(qimage.height(), qimage.bytesPerLine())[:, : qimage.width() * 3].reshape(
        qimage.height(), qimage.width(), 3).copy()


def near(pixels: np.ndarray, y: int, x: int, rgb, radius: int = 2, tol: int = 40) -> bool:
    """Some pixel within ``radius`` of (y, x) is within ``tol`` (sum of |diff|) of ``rgb``."""
    patch = pixels[max(0, y - radius): y + radius + 1, max(0, x - radius): x + radius + 1].astype(int)
    return bool((np.abs(patch - np.asarray(rgb, int)).sum(axis=2) <= tol).any())
