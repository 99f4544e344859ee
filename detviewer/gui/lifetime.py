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
  event filter sees the DestroyNotify of our top-level window and closes it.

Exit codes: 128 + the signal number (SIGINT 130, SIGTERM 143, SIGHUP 129), the shell's
convention for "ended by a signal", so a script running ``detviewer ... && next`` stops.
"""

from __future__ import annotations

import ctypes
import signal
import socket

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject, QSocketNotifier, QTimer

__all__ = ["RunLifetime", "QUIT_SIGNALS"]

QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_XCB_DESTROY_NOTIFY = 17


def _noop_handler(_signum, _frame) -> None:
    """The work is done by the wake-up socket's notifier, in the event loop."""


class RunLifetime(QObject):
    """Ends one window run exactly once, whatever asks first.

    Use: ``install_signal_handlers()`` (main thread, as early as possible), ``watch(window)``
    right after ``window.show()``, ``ended`` after each ``processEvents()`` during start-up,
    ``exec()`` instead of ``app.exec()``, and ``uninstall()`` in a ``finally``.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ended = False
        self.signal_exit_code: int | None = None  # 128 + signal number, when a signal ended the run
        self._window = None
        self._signal_request = False
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._notifier: QSocketNotifier | None = None
        self._previous_handlers: dict[int, object] = {}
        self._previous_wakeup_fd = -1
        self._destroy_filter: _DestroyFilter | None = None

    # -- signals ----------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Route SIGINT, SIGTERM and SIGHUP to closing the window (main thread; no QApplication needed)."""
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._sockets = (reader, writer)
        self._previous_wakeup_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for signum in QUIT_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, _noop_handler)

    def uninstall(self) -> None:
        """Restore the signal handlers and wake-up fd found at install time; remove the X filter."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._sockets is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)
            for sock in self._sockets:
                sock.close()
            self._sockets = None
        if self._destroy_filter is not None:
            QCoreApplication.instance().removeNativeEventFilter(self._destroy_filter)
            self._destroy_filter = None

    def _on_wakeup(self) -> None:
        received = self._drain()
        signals = [s for s in received if s in {int(q) for q in QUIT_SIGNALS}]
        if not signals:
            return
        if self.signal_exit_code is None:
            self.signal_exit_code = 128 + signals[0]
        self._request_end()

    def _drain(self) -> bytes:
        data = b""
        while self._sockets is not None:
            try:
                chunk = self._sockets[0].recv(64)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                break
            data += chunk
        return data

    # -- the window -------------------------------------------------------------------------------
    def watch(self, window) -> None:
        """Quit when ``window.closed`` fires; close it on a signal or when its X window is destroyed (xcb).

        Call it right after ``window.show()`` (the QApplication exists, no event processed yet).
        """
        self._window = window
        window.closed.connect(self._on_window_closed)
        if self._sockets is not None and self._notifier is None:
            # Signals received since install wait in the socket: the notifier fires at the next event.
            self._notifier = QSocketNotifier(self._sockets[0].fileno(), QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self._on_wakeup)
        app = QCoreApplication.instance()
        if getattr(app, "platformName", lambda: "")() == "xcb":
            self._destroy_filter = _DestroyFilter(lambda: int(window.internalWinId()), self._request_end)
            app.installNativeEventFilter(self._destroy_filter)

    def _request_end(self) -> None:
        if not self.ended:
            self._window.close()  # closeEvent saves and stops, then emits closed

    def _on_window_closed(self) -> None:
        self.ended = True
        QCoreApplication.quit()  # ends exec(); before exec, ``ended`` makes exec() return at once

    def exec(self) -> int:
        """``app.exec()`` unless the run has already ended; its return code (0 when skipped)."""
        if self.ended:
            return 0
        return int(QCoreApplication.instance().exec())


class _DestroyFilter(QAbstractNativeEventFilter):
    """Calls ``on_destroyed`` (queued) when X reports our top-level window destroyed.

    current_window_id: the window's X id *now*: Qt itself replaces the native window when a
    widget needing another surface type is added (the old id's DestroyNotify comes later).
    """

    def __init__(self, current_window_id, on_destroyed) -> None:
        super().__init__()
        self._current_window_id = current_window_id
        self._on_destroyed = on_destroyed

    def nativeEventFilter(self, event_type, message):
        if message and bytes(event_type) == b"xcb_generic_event_t":
            # xcb_destroy_notify_event_t: response_type u8, pad u8, sequence u16, event u32, window u32
            head = ctypes.string_at(int(message), 12)
            if head[0] & 0x7F == _XCB_DESTROY_NOTIFY and \
                    int.from_bytes(head[8:12], "little") == self._current_window_id():
                QTimer.singleShot(0, self._on_destroyed)  # not inside Qt's own event dispatch
        return False, 0
