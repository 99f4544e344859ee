"""A cancellable background task's progress in the status bar: "Exporting the NMS steps… [bar] [Cancel]".

Not a modal dialog: blocking the window and taking its activation repainted every widget twice (~10 ms each
way, and a full repaint of the window), while the work itself runs in the task runner and needs no blocking.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

__all__ = ["TaskProgress"]

SHOW_AFTER_MS = 300  # a task done sooner shows no bar at all


class TaskProgress(QWidget):
    """One task at a time: ``start(text, cancel)``, ``set_fraction(f)`` (0..1), ``finish()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(160)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)
        # As tall as a line of status text: a taller status bar would shrink the canvas (a resize and a full
        # repaint of the window, ~25 ms) each time the bar appears and goes.
        self.setFixedHeight(self.label.fontMetrics().height() + 2)
        self.label.setMinimumWidth(1)  # nor any wider than the window has room for
        self.cancel_button.setAutoRaise(True)
        self._cancel: Callable[[], None] | None = None
        self._running = False
        self.cancel_button.clicked.connect(self._on_cancel)
        self.hide()

    @property
    def running(self) -> bool:
        return self._running

    def start(self, text: str, cancel: Callable[[], None]) -> None:
        """Track a task; ``cancel()`` is called when the user clicks Cancel (it should call ``finish``). Shown
        once the task has run a moment."""
        self._running, self._cancel = True, cancel
        self.label.setText(text)
        self.bar.setValue(0)
        QTimer.singleShot(SHOW_AFTER_MS, lambda: self.setVisible(self._running))

    def set_fraction(self, fraction: float) -> None:
        percent = int(round(min(max(fraction, 0.0), 1.0) * 100))
        if percent != self.bar.value():  # a repaint only when the bar moves
            self.bar.setValue(percent)

    def finish(self) -> None:
        self._running, self._cancel = False, None
        self.hide()

    def _on_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel()
