"""Persistent settings (QSettings): last model, thresholds, recent files, window layout.

``DETVIEWER_SETTINGS=/path/file.ini`` (or ``open_settings(path)``) points them at a file, which
tests use to keep the user's real settings untouched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

from detviewer.core.types import NMS_METHODS
from detviewer.state.nms_replay import Thresholds
from detviewer.gui.worker import ModelRequest

__all__ = ["ORGANIZATION", "APPLICATION", "open_settings", "load_thresholds", "save_thresholds",
           "load_model_request", "save_model_request", "load_recent", "save_recent", "RecentFiles"]

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


def save_recent(where: tuple[str, QSettings.Format], recent: list[str]) -> None:
    """Write the recent list through a QSettings of its own on the file ``where`` = (fileName, format): one
    made on the calling thread, so that the task runner can do it (a sync writes the file: ~10 ms of the
    window's thread, in the same moment as the photo just opened starts decoding)."""
    settings = QSettings(*where)
    settings.setValue("recent", list(recent))
    settings.sync()
    if settings.status() != QSettings.Status.NoError:
        raise OSError(f"Could not save the list of recent files to {where[0]}.")


class RecentFiles:
    """File → Open recent: the list in memory for the menu, written to the settings by the task runner.

    settings: the window's QSettings (read now; it never writes the key itself, so its own later syncs keep
    what the runner wrote); background: gui.background.BackgroundWork; say(sentence): a failed write."""

    def __init__(self, settings: QSettings, background, say) -> None:
        self.paths = load_recent(settings)
        self._where = (settings.fileName(), settings.format())
        self._background, self._say = background, say

    def add(self, path: str) -> list[str]:
        """Put ``path`` first (once, at most MAX_RECENT kept); returns the new list."""
        self.paths = ([str(path)] + [p for p in self.paths if p != str(path)])[:MAX_RECENT]
        paths = list(self.paths)
        self._background.task(("recent",), lambda _context: save_recent(self._where, paths), "remembering the file",
                              lambda _value, error: self._say(error) if error else None, slot="recent")
        return paths
