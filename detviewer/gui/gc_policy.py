"""Python's cyclic garbage collector runs on the GUI thread only.

A collection runs on whichever thread happens to allocate; when the worker (building a model, decoding a
frame) collects a cycle that holds a Qt wrapper, the QObject is destroyed on the worker while the GUI
thread destroys another: the two wait for each other (Qt's mutex, the GIL) and the app hangs. Measured
here: a test run froze with the worker in ``gc_collect_main -> QObject::~QObject -> GilState::acquire``
and the GUI thread in ``~QMenu -> QBasicMutex::lockInternal``. So automatic collection is switched off
and pyqtgraph's GarbageCollector collects, generation by generation as Python would, from a GUI-thread timer.
"""

from __future__ import annotations

__all__ = ["collect_on_gui_thread", "collect_pending"]

_collector = None


def collect_on_gui_thread(interval_s: float = 1.0):
    """Install the policy once per process (call it on the GUI thread); returns the collector."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval_s)
    return _collector


def collect_pending() -> None:
    """Collect now what the timer would (the generations over their thresholds), on the calling thread."""
    if _collector is not None:
        _collector.check()
