"""Persistent settings (QSettings): last model, thresholds, recent files, window layout.

``DETVIEWER_SETTINGS=/path/file.ini`` (or ``open_settings(path)``) points them at a file, which
tests use to keep the user's real settings untouched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, QTimer

from detviewer.core.types import NMS_METHODS
from detviewer.gui.worker import ModelRequest
from detviewer.state.nms_replay import Thresholds

__all__ = ["ORGANIZATION", "APPLICATION", "open_settings", "load_thresholds", "save_thresholds",
           "load_model_request", "save_model_request", "load_recent", "SettingsWriter", "RecentFiles"]

ORGANIZATION = "detviewer"
APPLICATION = "detviewer"
MAX_RECENT = 10


def open_settings(path: str | None = None) -> QSettings:
    path = path or os.environ.get("DETVIEWER_SETTINGS")
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def _float(settings: QSettings, key: str, default: float, lo: float = 0.0, hi: float = 1.0) -> float:
    try:
        value = float(settings.value(key, default))
    except (TypeError, ValueError):
        return default
    return min(hi, max(lo, value))


def _bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def load_thresholds(settings: QSettings) -> Thresholds:
    d = Thresholds()
    method = str(settings.value("thresholds/method", d.method))
    return Thresholds(
        score=_float(settings, "thresholds/score", d.score),
        iou=_float(settings, "thresholds/iou", d.iou),
        class_agnostic=_bool(settings, "thresholds/class_agnostic", d.class_agnostic),
        method=method if method in NMS_METHODS else d.method,
        sigma=_float(settings, "thresholds/sigma", d.sigma, 0.05, 2.0),
    )


def save_thresholds(settings: QSettings, t: Thresholds) -> None:
    settings.setValue("thresholds/score", float(t.score))
    settings.setValue("thresholds/iou", float(t.iou))
    settings.setValue("thresholds/class_agnostic", bool(t.class_agnostic))
    settings.setValue("thresholds/method", t.method)
    settings.setValue("thresholds/sigma", float(t.sigma))


def load_model_request(settings: QSettings) -> ModelRequest:
    d = ModelRequest()
    return ModelRequest(
        name=str(settings.value("model/name", d.name) or d.name),
        weights=str(settings.value("model/weights", d.weights) or d.weights),
        device=str(settings.value("model/device", d.device) or d.device),
    )


def save_model_request(settings: QSettings, request: ModelRequest) -> None:
    settings.setValue("model/name", request.name)
    settings.setValue("model/weights", request.weights)
    settings.setValue("model/device", request.device)


def load_recent(settings: QSettings) -> list[str]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or []) if v]


class SettingsWriter:
    """Writes settings from the task runner, through a QSettings of its own on the window's settings file: a
    sync is file I/O (opening a 24 MP photo stalled the window 17 ms median with the recent list written on
    the GUI thread, 10 ms without), and a threshold slider wrote on every step (now once, where it stops).

    settings: the window's QSettings (it never writes these keys itself until quit, so its own syncs keep
    what the runner wrote); background: gui.background.BackgroundWork; say(sentence): a failed write."""

    def __init__(self, settings: QSettings, background, say) -> None:
        self._where = (settings.fileName(), settings.format())
        self._background, self._say = background, say
        self._timers: dict[str, QTimer] = {}
        self._waiting: dict[str, object] = {}

    def write(self, group: str, write, after_ms: int = 0) -> None:
        """Run ``write(qsettings)`` in the task runner and sync; a write of the same ``group`` still waiting
        is replaced (the newest values win). after_ms: wait until ``group`` has had no write for that long
        (a slider being dragged is saved once, where it stops)."""
        if after_ms <= 0:
            self._post(group, write)
            return
        self._waiting[group] = write
        timer = self._timers.get(group)
        if timer is None:
            timer = self._timers[group] = QTimer()
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self._post(group, self._waiting.pop(group)))
        timer.start(after_ms)

    def thresholds(self, thresholds: Thresholds) -> None:
        """Save the thresholds once they have stopped changing for half a second."""
        self.write("thresholds", lambda settings: save_thresholds(settings, thresholds), after_ms=500)

    def _post(self, group: str, write) -> None:
        where = self._where

        def run(_context) -> None:
            settings = QSettings(*where)
            write(settings)
            settings.sync()
            if settings.status() != QSettings.Status.NoError:
                raise OSError(f"Could not save the settings to {where[0]}.")

        self._background.task(("settings", group), run, "saving the settings",
                              lambda _value, error: self._say(error) if error else None, slot=f"settings:{group}")


class RecentFiles:
    """File → Open recent: the list in memory for the menu, saved by a SettingsWriter."""

    def __init__(self, settings: QSettings, writer: SettingsWriter) -> None:
        self.paths = load_recent(settings)
        self._writer = writer

    def add(self, path: str) -> list[str]:
        """Put ``path`` first (once, at most MAX_RECENT kept); returns the new list."""
        self.paths = ([str(path)] + [p for p in self.paths if p != str(path)])[:MAX_RECENT]
        paths = list(self.paths)
        self._writer.write("recent", lambda settings: settings.setValue("recent", paths))
        return paths
