"""Can Qt's xcb plugin open the X display? Asked before any QApplication exists (no Qt imported here).

Qt aborts the process (SIGABRT, "Reinstalling the application may fix this problem") when
DISPLAY names an X server it cannot reach, so ``launch`` asks first and says one sentence
instead. The question is answered by libxcb itself, the library the xcb plugin connects with,
so whatever Qt would meet is met here too: no server, authorisation refused (Xauthority), a
malformed DISPLAY, a screen number the server lacks.
"""

from __future__ import annotations

import ctypes
import threading

__all__ = ["x11_display_problem"]

# xcb_connection_has_error() codes (xcb.h)
_XCB_CONN_ERROR, _XCB_CONN_CLOSED_PARSE_ERR, _XCB_CONN_CLOSED_INVALID_SCREEN = 1, 5, 6


def x11_display_problem(display: str, timeout_s: float = 3.0) -> str | None:
    """None if an X server accepts a connection at ``display`` (e.g. ":0"); else why not, as a clause.

    Takes a few milliseconds for a local display. A remote one that never answers (a firewall
    dropping packets) is given up after ``timeout_s`` seconds; the connect attempt is left to
    finish in a daemon thread.
    """
    try:
        xcb = _load_xcb()
    except OSError:
        return "the X11 client library libxcb.so.1 is not installed (Debian/Ubuntu: apt install libxcb1)"
    answer: dict[str, tuple[int, int, int]] = {}
    attempt = threading.Thread(target=lambda: answer.update(result=_connect(xcb, display)),
                               name="x11 display check", daemon=True)
    attempt.start()
    attempt.join(timeout_s)
    if "result" not in answer:
        return f"the X display DISPLAY={display} does not answer within {timeout_s:g} s"
    error, screen, screens = answer["result"]
    if error == _XCB_CONN_CLOSED_PARSE_ERR:
        return f"DISPLAY={display} is not an X display name (such as :0 or localhost:10.0)"
    if error == _XCB_CONN_CLOSED_INVALID_SCREEN or (not error and screen >= screens):
        return f"the X server at DISPLAY={display} has no screen {screen}"
    if error == _XCB_CONN_ERROR:
        return (f"no X server accepts a connection at DISPLAY={display} "
                "(is it running, and may this user connect to it?)")
    if error:
        return f"the X server at DISPLAY={display} closed the connection (xcb error {error})"
    return None


def _load_xcb():
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_get_setup.restype = ctypes.c_void_p
    xcb.xcb_get_setup.argtypes = [ctypes.c_void_p]
    xcb.xcb_setup_roots_length.restype = ctypes.c_int
    xcb.xcb_setup_roots_length.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.restype = None
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    return xcb


def _connect(xcb, display: str) -> tuple[int, int, int]:
    """(xcb error code or 0, preferred screen, number of screens): one connect and disconnect."""
    screen = ctypes.c_int(0)
    connection = xcb.xcb_connect(display.encode(), ctypes.byref(screen))
    try:
        error = xcb.xcb_connection_has_error(connection)
        screens = 0 if error else xcb.xcb_setup_roots_length(xcb.xcb_get_setup(connection))
        return error, screen.value, screens
    finally:
        xcb.xcb_disconnect(connection)  # also frees the static error connection safely
