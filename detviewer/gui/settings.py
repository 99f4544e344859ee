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
           "load_model_request", "save_model_request", "load_recent", "add_recent"]

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


def add_recent(settings: QSettings, path: str) -> list[str]:
    recent = [str(path)] + [p for p in load_recent(settings) if p != str(path)]
    recent = recent[:MAX_RECENT]
    settings.setValue("recent", recent)
    return recent
