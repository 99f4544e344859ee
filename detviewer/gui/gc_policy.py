"""Python's cyclic garbage collector runs on the GUI thread only, and never scans the startup objects.

A collection runs on whichever thread happens to allocate; when the worker (building a model, decoding a
frame) collects a cycle that holds a Qt wrapper, the QObject is destroyed on the worker while the GUI
thread destroys another: the two wait for each other (Qt's mutex, the GIL) and the app hangs. Measured
here: a test run froze with the worker in ``gc_collect_main -> QObject::~QObject -> GilState::acquire``
and the GUI thread in ``~QMenu -> QBasicMutex::lockInternal``. So automatic collection is switched off
and a GUI-thread timer collects, generation by generation as Python would (pyqtgraph's GarbageCollector
does the same).

A full collection scans every tracked object: with torch, torchvision and a model loaded that is ~360k
objects and 130 ms, far over a frame. Once the first model is loaded, ``freeze_startup`` moves everything
alive into the permanent generation (``gc.freeze``), and full collections scan only what came later.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["collect_on_gui_thread", "collect_pending", "freeze_startup"]

_collector: "GuiThreadCollector | None" = None
_frozen = False


class GuiThreadCollector(QObject):
    """Collects, from a timer of the thread that made it, the generations whose counts passed Python's own
    thresholds (``gc.get_threshold``)."""

    def __init__(self, interval_ms: int = 1000) -> None:
        super().__init__()
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        young, middle, old = gc.get_count()
        if young > self.threshold[0]:
            generation = 0
            if middle > self.threshold[1]:
                generation = 2 if old > self.threshold[2] else 1
            gc.collect(generation)


def collect_on_gui_thread(interval_ms: int = 1000) -> GuiThreadCollector:
    """Install the policy once per process (call it on the GUI thread); returns the collector."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(interval_ms)
    return _collector


def freeze_startup() -> None:
    """Once per process, when the imports and the first model are in: full collections skip them from now.
    What is garbage by then is collected first (one full collection, ~130 ms, while the model appears)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def collect_pending() -> None:
    """Collect now what the timer would (the generations over their thresholds), on the calling thread."""
    if _collector is not None:
        _collector.check()
