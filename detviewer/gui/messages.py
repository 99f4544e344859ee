"""Every sentence the window tells the user, kept: View → Messages lists them with time and severity;
the status bar shows the latest and how many errors are unread. A message about one image goes from the
status bar when another image is shown (it stays in the log), so an old error never sits under a good image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["Message", "MessageLog", "MessagesDialog", "INFO", "WARNING", "ERROR"]

INFO, WARNING, ERROR = "info", "warning", "error"
MAX_MESSAGES = 500


@dataclass(frozen=True)
class Message:
    """text: one sentence; severity: INFO / WARNING / ERROR; per_image: about the image shown when it came;
    topic: what it is about ("model": a load); the next message on the same topic replaces it in the status bar."""

    text: str
    severity: str = INFO
    per_image: bool = False
    time: float = 0.0
    topic: str = ""

    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.time))


class MessageLog(QObject):
    """The window's messages, newest last; ``changed`` after each add, read or image change."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.unread_errors = 0
        self.current: Message | None = None  # what the status bar shows

    def add(self, text: str, severity: str = INFO, per_image: bool = False, topic: str = "") -> Message | None:
        text = " ".join(str(text).split())
        if not text:
            return self.current
        message = Message(text, severity, per_image, time.time(), topic)
        self.messages = (self.messages + [message])[-MAX_MESSAGES:]
        if severity == ERROR:
            self.unread_errors += 1
        current = self.current
        if current is None or severity != INFO or current.severity == INFO or (topic and current.topic == topic):
            self.current = message  # an info never hides an error still shown, but the news on its own topic
        self.changed.emit()
        return message

    def image_changed(self) -> None:
        """Another image is shown: a message about the previous one leaves the status bar."""
        if self.current is not None and self.current.per_image:
            self.current = None
            self.changed.emit()

    def clear_topic(self, topic: str) -> None:
        """What it said on ``topic`` is no longer true (a selection left): it leaves the status bar (not the log)."""
        if self.current is not None and self.current.topic == topic:
            self.current = None
            self.changed.emit()

    def mark_read(self) -> None:
        self.unread_errors = 0
        self.changed.emit()

    def status_text(self) -> str:
        text = self.current.text if self.current is not None else ""
        if self.unread_errors > (1 if self.current is not None and self.current.severity == ERROR else 0):
            errors = "1 error" if self.unread_errors == 1 else f"{self.unread_errors} errors"
            text += f"  ({errors}: View → Messages)"
        return text.strip()


class MessagesDialog(QDialog):
    """View → Messages: every message with its time and severity; opening it marks errors read."""

    def __init__(self, log: MessageLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Messages")
        self.resize(760, 420)
        self.log = log
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Time", "Severity", "Message"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        log.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        messages = list(reversed(self.log.messages))
        self.table.setRowCount(len(messages))
        for row, m in enumerate(messages):
            for col, text in enumerate((m.clock(), m.severity, m.text)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeRowsToContents()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.log.mark_read()
