"""The window's thread gets the GIL back within 1 ms of asking, not Python's default 5 ms.

Every Python slot, paint and model call that Qt makes on the GUI thread first takes the GIL. While a
background thread runs Python (the task runner drawing an export, replaying NMS for the IoU grid), the GUI
thread waits for it up to the switch interval each time, and one event can take it several times: exporting
the NMS steps stalled the window 22 ms (median of 7) at 5 ms, 13 ms at 1 ms (bench/bench_gui_stall.py).
Background threads pay a forced switch per millisecond of Python, a cost too small to measure against their
work, which is mostly in torch, OpenCV and Qt calls.
"""

from __future__ import annotations

import sys

__all__ = ["favour_gui_thread", "GUI_SWITCH_INTERVAL_S"]

GUI_SWITCH_INTERVAL_S = 0.001


def favour_gui_thread() -> None:
    """Set the interpreter's switch interval for a process with a window (call it once, at startup)."""
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
