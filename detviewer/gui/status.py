"""Status bar: model and device, per-stage timings, frames per second, one-sentence messages, the progress of
a cancellable background task."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from detviewer.gui.task_progress import TaskProgress
from detviewer.gui.worker import InferenceResult, LoadedModel

if TYPE_CHECKING:
    from detviewer.gui.session import Session

__all__ = ["StatusBar", "format_timings"]


def format_timings(timings: dict[str, float], total_ms: float | None = None) -> str:
    """{'backbone': 21.3, ...} -> "backbone 21 · head 3 · in the app 26 ms"."""
    parts = [f"{name} {ms:.0f}" for name, ms in timings.items()]
    if total_ms is not None:
        parts.append(f"in the app {total_ms:.0f}")
    return " · ".join(parts) + " ms" if parts else ""


class StatusBar(QStatusBar):
    """The latest message on the left (from the window's MessageLog); timings, fps and the model on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_label = QLabel("")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.addWidget(self.message_label, 1)
        self.task_progress = TaskProgress()  # a cancellable background task (an export)
        self.addPermanentWidget(self.task_progress)
        self.model_label = QLabel("no model")
        self.timing_label = QLabel("")
        self.fps_label = QLabel("")
        for w in (self.timing_label, self.fps_label, self.model_label):
            w.setContentsMargins(10, 0, 4, 0)
            w.setStyleSheet("color: palette(window-text); border-left: 1px solid palette(mid);")
            self.addPermanentWidget(w)
        for w in (self.message_label, self.timing_label, self.fps_label, self.model_label):
            # A label's least width is its whole text by default: a long message or timing line made the
            # status bar, and so the window, wider (and repainted every widget). Too long now means clipped.
            w.setMinimumWidth(1)
        self._last_frame_time: float | None = None
        self._fps = 0.0

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #c0392b; font-weight: bold;" if error else "")

    def message_text(self) -> str:
        return self.message_label.text()

    def show_model(self, text: str) -> None:
        self.model_label.setText(text)

    def show_result(self, result: InferenceResult, streaming: bool) -> None:
        inference = result.inference
        timings = dict(getattr(inference, "timings", {}) or {})
        self.timing_label.setText(format_timings(timings, result.latency_ms))
        now = time.perf_counter()
        if streaming and self._last_frame_time is not None:
            dt = max(1e-6, now - self._last_frame_time)
            self._fps = 1.0 / dt if self._fps == 0 else 0.8 * self._fps + 0.2 / dt
            self.fps_label.setText(f"{self._fps:.1f} fps")
        elif not streaming:
            self._fps = 0.0
            self.fps_label.setText("")
        self._last_frame_time = now if streaming else None

    def follow(self, session: Session) -> None:
        """The session's latest message (red while an error is the news), its model (kept through a failed load)
        and each result's timings."""
        from detviewer.gui.messages import ERROR
        from detviewer.gui.session import ModelChanged

        def model_text(model: LoadedModel | None) -> str:
            if model is None:
                return "no model"
            return f"{model.name} · {model.device}" + (" · untrained" if model.weights == "none" else "")

        def messages_changed() -> None:
            current = session.messages.current
            self.show_message(session.messages.status_text(), error=current is not None and current.severity == ERROR)

        session.messages.changed.connect(messages_changed)
        session.model_loading.connect(lambda request: self.show_model(f"loading {request.name}…"))
        session.model_failed.connect(lambda _message: self.show_model(model_text(session.model)))
        def changed(event: object) -> None:
            if isinstance(event, ModelChanged):
                self.show_model(model_text(event.model))

        def result_shown(result: InferenceResult) -> None:
            if result.inference is not None:
                self.show_result(result, session.feed.playing)

        session.changed.connect(changed)
        session.result_shown.connect(result_shown)

    @property
    def fps(self) -> float:
        return self._fps
