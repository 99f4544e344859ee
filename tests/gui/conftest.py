"""Fixtures for driving the real MainWindow offscreen (fakes live in gui_fakes.py)."""

from __future__ import annotations

import pytest
from gui_fakes import FakeLoader


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """make_window(loader=None) -> a shown MainWindow whose model is loaded (fake detector)."""
    windows = []

    def make(loader: FakeLoader | None = None, load: bool = True, **kwargs):
        from detviewer.gui.main_window import MainWindow
        from detviewer.gui.worker import ModelRequest

        loader = loader or FakeLoader()
        window = MainWindow(settings=kwargs.pop("settings", settings), loader=loader, lister=lambda: [], **kwargs)
        window.loader = loader
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        windows.append(window)
        if load:
            with qtbot.waitSignal(window.model_ready, timeout=60000):  # a loaded CI machine can take long
                window.request_model(ModelRequest("fake", "none", "cpu"))
        return window

    yield make
    for window in windows:
        assert window.shutdown(), "worker thread did not stop within 2 s"
    from detviewer.gui.gc_policy import collect_pending

    collect_pending()  # what the app's GUI-thread timer would have collected, should the test not have waited


