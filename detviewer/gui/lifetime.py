"""How a window run ends: the window closing (before or during ``app.exec()``), a signal, or its X window destroyed.

Three traps this module closes:

- A close handled by a ``processEvents()`` before ``exec()`` would emit ``closed`` to nobody and
  ``exec()`` would then wait forever: ``watch`` connects first, and ``exec`` is skipped once ended.
- Qt's event loop runs in C++ and Python runs a signal handler only when the interpreter gets
  control, so Ctrl+C did nothing while idle and raised KeyboardInterrupt out of the next slot.
  Here the Python handlers do nothing; ``signal.set_wakeup_fd`` writes each signal number to a
  socket that a ``QSocketNotifier`` watches, and its slot closes the window the usual way
  (settings saved, worker stopped).
- ``xdotool windowclose`` (XDestroyWindow) leaves Qt believing its window is still shown: a native
  event filter sees the DestroyNotify of our top-level window and writes a byte to the same
  socket, so one slot, outside Qt's X event dispatch, ends the run whatever asked.

Exit codes: 128 + the signal number (SIGINT 130, SIGTERM 143, SIGHUP 129), the shell's
convention for "ended by a signal", so a script running ``detviewer ... && next`` stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QEvent, QObject, QSocketNotifier

if TYPE_CHECKING:
    from PySide6.QtCore import QByteArray

__all__ = ["RunLifetime", "QUIT_SIGNALS", "WatchedWindow"]


class WatchedWindow(Protocol):
    """What the run's lifetime needs of the top-level window (not the window itself): its ``closed`` signal, a
    bounded shutdown, close, an event filter and its native window id."""

    closed: Any  # a Qt Signal emitted once the window has closed and stopped its threads

    def shutdown(self, timeout_ms: int = ...) -> bool: ...

    def close(self) -> bool: ...

    def installEventFilter(self, watched: QObject) -> None: ...

    def internalWinId(self) -> int: ...

QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_WINDOW_DESTROYED = 0  # wake-up byte of the X filter: no signal has number 0
_XCB_DESTROY_NOTIFY = 17


def _noop_handler(_signum: int, _frame: FrameType | None) -> None:
    """The work is done by the wake-up socket's notifier, in the event loop."""


class RunLifetime(QObject):
    """Ends one window run exactly once, whatever asks first.

    Use: ``install_signal_handlers()`` (main thread, as early as possible), ``watch(window)``
    right after ``window.show()``, ``ended`` after each ``processEvents()`` during start-up,
    ``exec()`` instead of ``app.exec()``, and ``uninstall()`` in a ``finally``.
    """

    def __init__(self, parent: QObject | None = None, *, quit_wait_ms: int | None = None) -> None:
        """quit_wait_ms: the process ends right after the window closes (launch leaves with os._exit),
        so the close waits at most this long for the background threads instead of the window's
        default 1.8 s: a thread importing torch or inside a forward pass cannot stop anyway. None
        (a host application such as pytest-qt): the window's own shutdown, unchanged."""
        super().__init__(parent)
        self.ended = False
        self._quit_wait_ms = quit_wait_ms
        self.signal_exit_code: int | None = None  # 128 + signal number, when a signal ended the run
        self._window: WatchedWindow | None = None
        self._reader, self._writer = socket.socketpair()
        for sock in (self._reader, self._writer):
            sock.setblocking(False)
        self._notifier: QSocketNotifier | None = None
        self._previous_handlers: dict[int, object] = {}
        self._previous_wakeup_fd: int | None = None
        self._destroy_filter: _DestroyFilter | None = None

    def install_signal_handlers(self) -> None:
        """Route SIGINT, SIGTERM and SIGHUP to closing the window (main thread; no QApplication needed).

        A signal ignored by whoever started us stays ignored: ``nohup`` (SIGHUP), or SIGINT for a
        job a script started in the background, as Python itself does.
        """
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in QUIT_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous_handlers[signum] = signal.signal(signum, _noop_handler)

    def watch(self, window: WatchedWindow) -> None:
        """Quit when ``window.closed`` fires; close it on a signal or when its X window is destroyed (xcb).

        Call it right after ``window.show()`` (the QApplication exists, no event processed yet).
        Signals received since ``install_signal_handlers`` wait in the socket: the notifier fires
        at the next event processing.
        """
        self._window = window
        window.closed.connect(self._on_window_closed)
        if self._quit_wait_ms is not None:
            window.installEventFilter(self)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        app = QCoreApplication.instance()
        if getattr(app, "platformName", lambda: "")() == "xcb":
            self._destroy_filter = _DestroyFilter(lambda: int(window.internalWinId()), self._wake_for_destroy)
            app.installNativeEventFilter(self._destroy_filter)

    def exec(self) -> int:
        """``app.exec()`` unless the run has already ended; its return code (0 when skipped)."""
        if self.ended:
            return 0
        return int(QCoreApplication.instance().exec())

    def uninstall(self) -> None:
        """Restore the signal handlers and wake-up fd found at install time; remove the X filter."""
        if self._destroy_filter is not None:
            QCoreApplication.instance().removeNativeEventFilter(self._destroy_filter)
            self._destroy_filter = None
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._previous_wakeup_fd is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)
            self._previous_wakeup_fd = None
        self._reader.close()
        self._writer.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Close:
            # Before closeEvent (which then finds the window shut down): the same settings saved and
            # threads stopped, with the shorter wait. closeEvent always accepts the close.
            self._window.shutdown(self._quit_wait_ms)
        return False

    # -- slots ------------------------------------------------------------------------------------
    def _on_wakeup(self) -> None:
        received = self._drain()
        signals = [code for code in received if code in {int(s) for s in QUIT_SIGNALS}]
        if signals and self.signal_exit_code is None:
            self.signal_exit_code = 128 + signals[0]
        if (signals or _WINDOW_DESTROYED in received) and not self.ended:
            self._window.close()  # closeEvent saves and stops, then emits closed

    def _on_window_closed(self) -> None:
        self.ended = True
        QCoreApplication.quit()  # ends exec(); before exec, ``ended`` makes exec() return at once

    def _wake_for_destroy(self) -> None:
        with contextlib.suppress(OSError):  # closed (run over) or full (a wake-up is already pending)
            self._writer.send(bytes([_WINDOW_DESTROYED]))

    def _drain(self) -> bytes:
        data = b""
        while True:
            try:
                chunk = self._reader.recv(64)
            except (BlockingIOError, InterruptedError, OSError):
                return data
            if not chunk:
                return data
            data += chunk


class _DestroyFilter(QAbstractNativeEventFilter):
    """Calls ``on_destroyed`` when X reports our top-level window destroyed.

    current_window_id: the window's X id *now*: Qt itself replaces the native window when a
    widget needing another surface type is added (the old id's DestroyNotify comes later).
    """

    def __init__(self, current_window_id: Callable[[], int], on_destroyed: Callable[[], None]) -> None:
        super().__init__()
        self._current_window_id = current_window_id
        self._on_destroyed = on_destroyed

    def nativeEventFilter(self, event_type: QByteArray | bytes, message: int) -> tuple[bool, int]:
        address = int(message)  # a shiboken VoidPtr, which is falsy even when it points somewhere
        if address and bytes(event_type) == b"xcb_generic_event_t":
            # xcb_destroy_notify_event_t: response_type u8, pad u8, sequence u16, event u32, window u32
            head = ctypes.string_at(address, 12)
            if head[0] & 0x7F == _XCB_DESTROY_NOTIFY and \
                    int.from_bytes(head[8:12], "little") == self._current_window_id():
                self._on_destroyed()
        return False, 0
